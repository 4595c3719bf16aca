/* flash_area_* over a memory-backed NOR device registered by the board. */
#include <stddef.h>
#include <string.h>

#include "agent/err.h"
#include "hal/flash.h"

static struct hal_flash_dev *dev;

static int is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1u)) == 0;
}

int hal_flash_register(struct hal_flash_dev *d)
{
	if (d == NULL) {
		dev = NULL;
		return 0;
	}
	if (d->mem == NULL || d->areas == NULL || !is_pow2(d->align) || !is_pow2(d->sector) ||
	    d->size % d->sector != 0)
		return AG_EINVAL;
	for (unsigned i = 0; i < FLASH_AREA_COUNT; i++) {
		const struct flash_area *fa = &d->areas[i];
		if (fa->fa_id != i || fa->fa_off % d->sector || fa->fa_size % d->sector ||
		    fa->fa_off > d->size || fa->fa_size > d->size - fa->fa_off)
			return AG_EINVAL;
	}
	dev = d;
	return 0;
}

int flash_area_open(uint8_t id, const struct flash_area **ret_fa)
{
	if (dev == NULL)
		return AG_ESTATE;
	if (id >= FLASH_AREA_COUNT)
		return AG_ENOENT;
	*ret_fa = &dev->areas[id];
	return 0;
}

void flash_area_close(const struct flash_area *fa)
{
	(void)fa;
}

static int in_range(const struct flash_area *fa, uint32_t off, uint32_t len)
{
	return fa != NULL && dev != NULL && off <= fa->fa_size && len <= fa->fa_size - off;
}

int flash_area_read(const struct flash_area *fa, uint32_t off, void *dst, uint32_t len)
{
	if (!in_range(fa, off, len) || (dst == NULL && len))
		return AG_EINVAL;
	if (len)
		memcpy(dst, dev->mem + fa->fa_off + off, len);
	return 0;
}

static void program(uint8_t *p, const uint8_t *src, uint32_t len, int *bad)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t v = (uint8_t)(p[i] & src[i]);
		if (v != src[i])
			*bad = 1;
		p[i] = v;
	}
}

int flash_area_write(const struct flash_area *fa, uint32_t off, const void *src, uint32_t len)
{
	if (!in_range(fa, off, len) || (src == NULL && len) || off % dev->align ||
	    len % dev->align)
		return AG_EINVAL;
	if (len == 0)
		return 0;
	uint32_t at = fa->fa_off + off;
	int act = dev->hook ? dev->hook(dev->ctx, HAL_FLASH_OP_WRITE, at, len) : HAL_FLASH_DO;
	int bad = 0;
	if (act == HAL_FLASH_CUT) {
		dev->cut(dev->ctx);
		return AG_EIO;
	}
	if (act == HAL_FLASH_TEAR) {
		program(dev->mem + at, src, len / 2u, &bad);
		dev->cut(dev->ctx);
		return AG_EIO;
	}
	program(dev->mem + at, src, len, &bad);
	return bad ? AG_EFLASH : 0;
}

int flash_area_erase(const struct flash_area *fa, uint32_t off, uint32_t len)
{
	if (!in_range(fa, off, len) || off % dev->sector || len % dev->sector)
		return AG_EINVAL;
	if (len == 0)
		return 0;
	uint32_t at = fa->fa_off + off;
	int act = dev->hook ? dev->hook(dev->ctx, HAL_FLASH_OP_ERASE, at, len) : HAL_FLASH_DO;
	if (act == HAL_FLASH_CUT) {
		dev->cut(dev->ctx);
		return AG_EIO;
	}
	if (act == HAL_FLASH_TEAR) {
		/* Half the range reads erased; the rest keeps its old bytes. */
		memset(dev->mem + at, dev->erased, len / 2u);
		dev->cut(dev->ctx);
		return AG_EIO;
	}
	memset(dev->mem + at, dev->erased, len);
	return 0;
}

uint32_t flash_area_align(const struct flash_area *fa)
{
	(void)fa;
	return dev ? dev->align : 1u;
}

uint8_t flash_area_erased_val(const struct flash_area *fa)
{
	(void)fa;
	return dev ? dev->erased : 0xffu;
}

uint32_t flash_area_sector_size(const struct flash_area *fa)
{
	(void)fa;
	return dev ? dev->sector : 0u;
}

const uint8_t *flash_area_xip(const struct flash_area *fa)
{
	if (fa == NULL || dev == NULL)
		return NULL;
	return dev->mem + fa->fa_off;
}
