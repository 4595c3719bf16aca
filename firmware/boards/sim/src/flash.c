/* The sim board's flash: a file mapped with mmap, and the power-cut hook. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/err.h"
#include "hal/flash.h"
#include "sim_internal.h"

static struct flash_area areas[FLASH_AREA_COUNT];
static struct hal_flash_dev dev;
static uint32_t ops, cut_at;
static int cut_mode;
static void (*cut_fn)(void *);
static void *cut_arg;

static int hook(void *ctx, int op, uint32_t off, uint32_t len)
{
	(void)ctx;
	(void)op;
	(void)off;
	(void)len;
	ops++;
	if (cut_at == 0 || ops != cut_at)
		return HAL_FLASH_DO;
	return cut_mode == SIM_CUT_TEAR ? HAL_FLASH_TEAR : HAL_FLASH_CUT;
}

static void cut(void *ctx)
{
	(void)ctx;
	cut_at = 0;
	if (cut_fn) {
		cut_fn(cut_arg);
		return;
	}
	/* The mapping is shared: the file already holds every byte written. */
	static const char msg[] = "sim: power cut\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(SIM_CUT_EXIT);
}

uint32_t sim_flash_ops(void)
{
	return ops;
}

void sim_flash_cut(uint32_t at, int mode, void (*on_cut)(void *), void *arg)
{
	cut_at = at ? ops + at : 0;
	cut_mode = mode;
	cut_fn = on_cut;
	cut_arg = arg;
}

uint8_t *sim_flash_mem(uint32_t *ret_size)
{
	if (ret_size)
		*ret_size = dev.size;
	return dev.mem;
}

int sim__flash_init(const struct sim_config *cfg)
{
	uint32_t slot = cfg->slot_size;
	if (slot == 0 || slot % SIM_FLASH_SECTOR)
		return AG_EINVAL;
	uint32_t size = SIM_FLASH_BOOT_SIZE + 2u * slot;
	void *mem;
	if (cfg->flash_path) {
		int fd = open(cfg->flash_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			fprintf(stderr, "sim: cannot open flash %s: %s\n", cfg->flash_path,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return AG_EIO;
		}
		if ((uint64_t)st.st_size < size) {
			/* New (or short) file: the missing part reads erased. */
			static uint8_t ff[SIM_FLASH_SECTOR];
			memset(ff, 0xff, sizeof(ff));
			off_t at = st.st_size - st.st_size % (off_t)SIM_FLASH_SECTOR;
			for (; at < (off_t)size; at += (off_t)SIM_FLASH_SECTOR) {
				if (pwrite(fd, ff, sizeof(ff), at) != (ssize_t)sizeof(ff)) {
					fprintf(stderr, "sim: cannot size flash %s: %s\n",
						cfg->flash_path, strerror(errno));
					close(fd);
					return AG_EIO;
				}
			}
		}
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
	} else {
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem != MAP_FAILED)
			memset(mem, 0xff, size);
	}
	if (mem == MAP_FAILED) {
		fprintf(stderr, "sim: cannot map flash: %s\n", strerror(errno));
		return AG_EIO;
	}
	areas[0] = (struct flash_area){FLASH_AREA_BOOTLOADER, 0, 0, 0, SIM_FLASH_BOOT_SIZE};
	areas[1] = (struct flash_area){FLASH_AREA_SLOT_A, 0, 0, SIM_FLASH_BOOT_SIZE, slot};
	areas[2] = (struct flash_area){FLASH_AREA_SLOT_B, 0, 0, SIM_FLASH_BOOT_SIZE + slot, slot};
	dev = (struct hal_flash_dev){mem, size, SIM_FLASH_SECTOR, 8, 0xff, areas, hook, cut, NULL};
	ops = 0;
	sim_flash_cut(cfg->cut_at, cfg->cut_mode, NULL, NULL);
	return hal_flash_register(&dev);
}

void sim__flash_done(void)
{
	(void)hal_flash_register(NULL);
	if (dev.mem)
		munmap(dev.mem, dev.size);
	memset(&dev, 0, sizeof(dev));
}
