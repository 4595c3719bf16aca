/* flotilla-fleetsim: many virtual devices in one process, each the real
 * device-side agent (ag_agent) with two in-memory flash slots, connected to a
 * gateway over TCP or over ptys. One epoll loop and a min-heap of timers.
 * Seeded: the same seed and options play the same fleet. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "agent/agent.h"
#include "agent/err.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/loop.h"

#define BAD_MAX 16
#define OUT_MAX (64 * 1024)
#define READ_MAX 2048

enum { DOWN, CONNECTING, UP };

struct chunk {
	struct chunk *next;
	uint64_t due;
	uint32_t len;
	uint8_t data[];
};

struct fifo {
	struct chunk *head, *tail;
	uint64_t busy_until; /* serialization of the simulated line */
};

struct dev {
	struct ag_agent a;
	struct gw_watch w;
	int keep_slave; /* pty mode: our own slave fd */
	uint8_t state;
	uint8_t active, boot_next, boot_permanent, trial;
	uint8_t reconnecting; /* the next boot() only reconnects */
	uint8_t inited;       /* the agent was initialized once */
	struct ag_slot_info slot[2];
	uint8_t *flash[2];
	uint32_t xfer, xfer_off, xfer_size, image_size;
	uint8_t xfer_slot;
	struct ag_version xfer_version;
	uint8_t sha[32];
	uint64_t due;        /* next timer, ms; 0 none */
	uint64_t crash_at;   /* next crash, ms; 0 never */
	uint64_t reboot_at;  /* a requested reboot, ms; 0 none */
	uint64_t rng;
	uint32_t boot_count, crash_count, error_count;
	uint8_t reset_reason;
	uint8_t *out;        /* bytes the socket did not take */
	uint32_t out_len;
	struct fifo tx, rx;  /* delayed chunks: device->gateway, gateway->device */
	uint32_t idx;
};

struct heap_ent {
	uint64_t due;
	uint32_t idx;
};

static struct {
	/* options */
	unsigned n;
	uint64_t seed;
	char prefix[16];
	char hw_id[AG_ID_MAX + 1];
	uint32_t gw_ip;
	uint16_t gw_port;
	char pty_dir[200];
	uint16_t heartbeat_s;
	uint32_t rate;      /* bytes/s per direction; 0 unlimited */
	uint32_t latency_ms;
	double loss, ber;
	double crash_per_s; /* per device */
	struct ag_version version;
	struct ag_version bad[BAD_MAX];
	unsigned n_bad;
	uint32_t slot_size;
	uint32_t ramp;      /* connects started per second */
	double duration_s;
	char stats_path[200];
	/* state */
	struct gw_loop *loop;
	struct dev *devs;
	struct heap_ent *heap;
	size_t heap_n, heap_cap;
	unsigned started; /* devices booted so far (ramp) */
	int stop;
	struct {
		uint64_t connects, disconnects, crashes, reboots, self_test_fail, ota_done;
		uint64_t lost_frames, bit_errors, out_drops;
		uint64_t hellos, heartbeats; /* of agents since re-initialized */
	} st;
} sim;

static uint64_t rnd(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd01(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* ---- timers: a min-heap with lazy entries (the device's due wins) ---- */

static void heap_push(uint64_t due, uint32_t idx)
{
	if (sim.heap_n == sim.heap_cap) {
		sim.heap_cap = sim.heap_cap ? sim.heap_cap * 2 : 1024;
		sim.heap = realloc(sim.heap, sim.heap_cap * sizeof(*sim.heap));
		if (!sim.heap)
			abort();
	}
	size_t i = sim.heap_n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (sim.heap[p].due <= due)
			break;
		sim.heap[i] = sim.heap[p];
		i = p;
	}
	sim.heap[i] = (struct heap_ent){due, idx};
}

static struct heap_ent heap_pop(void)
{
	struct heap_ent top = sim.heap[0], last = sim.heap[--sim.heap_n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= sim.heap_n)
			break;
		if (c + 1 < sim.heap_n && sim.heap[c + 1].due < sim.heap[c].due)
			c++;
		if (sim.heap[c].due >= last.due)
			break;
		sim.heap[i] = sim.heap[c];
		i = c;
	}
	if (sim.heap_n)
		sim.heap[i] = last;
	return top;
}

static void schedule(struct dev *d, uint64_t due)
{
	if (d->due && d->due <= due)
		return; /* an earlier entry fires first and reschedules */
	d->due = due;
	heap_push(due, d->idx);
}

/* ---- the simulated line ---- */

static void impair(struct dev *d, uint8_t *buf, size_t len)
{
	if (sim.ber <= 0)
		return;
	/* geometric gaps between flipped bits */
	double bits = (double)len * 8;
	double pos = floor(log(1 - rnd01(&d->rng)) / log(1 - sim.ber));
	while (pos < bits) {
		size_t b = (size_t)pos;
		buf[b / 8] ^= (uint8_t)(1u << (b % 8));
		sim.st.bit_errors++;
		pos += 1 + floor(log(1 - rnd01(&d->rng)) / log(1 - sim.ber));
	}
}

static void sock_write(struct dev *d, const uint8_t *buf, size_t len)
{
	if (d->out_len == 0) {
		ssize_t n = write(d->w.fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		}
		if (len == 0)
			return;
	}
	if (d->out_len + len > OUT_MAX) {
		sim.st.out_drops++;
		return;
	}
	uint8_t *p = realloc(d->out, d->out_len + len);
	if (!p)
		return;
	d->out = p;
	memcpy(d->out + d->out_len, buf, len);
	d->out_len += (uint32_t)len;
	(void)gw_loop_mod(sim.loop, &d->w, EPOLLIN | EPOLLOUT);
}

static void fifo_push(struct dev *d, struct fifo *f, const uint8_t *buf, size_t len,
		      uint64_t now)
{
	struct chunk *c = malloc(sizeof(*c) + len);
	if (!c)
		return;
	memcpy(c->data, buf, len);
	c->len = (uint32_t)len;
	c->next = NULL;
	uint64_t start = f->busy_until > now ? f->busy_until : now;
	if (sim.rate)
		f->busy_until = start + (uint64_t)len * 1000u / sim.rate;
	else
		f->busy_until = start;
	c->due = f->busy_until + sim.latency_ms;
	if (f->tail)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	schedule(d, c->due);
}

static void fifo_clear(struct fifo *f)
{
	while (f->head) {
		struct chunk *c = f->head;
		f->head = c->next;
		free(c);
	}
	f->tail = NULL;
	f->busy_until = 0;
}

static int a_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct dev *d = ctx;
	if (d->state != UP)
		return AG_EIO;
	if (sim.loss > 0 && rnd01(&d->rng) < sim.loss) {
		sim.st.lost_frames++;
		return 0;
	}
	uint8_t tmp[AG_FRAME_WIRE(AG_FRAME_MAX)];
	if (len > sizeof(tmp))
		return AG_EIO;
	memcpy(tmp, buf, len);
	impair(d, tmp, len);
	if (sim.rate || sim.latency_ms)
		fifo_push(d, &d->tx, tmp, len, gw_now_ms());
	else
		sock_write(d, tmp, len);
	return 0;
}

/* ---- the device ---- */

static int is_bad(const struct ag_version *v)
{
	for (unsigned i = 0; i < sim.n_bad; i++)
		if (sim.bad[i].major == v->major && sim.bad[i].minor == v->minor &&
		    sim.bad[i].patch == v->patch)
			return 1;
	return 0;
}

static void a_slots(void *ctx, struct ag_slot_info ret_slot[2], uint8_t *ret_active)
{
	struct dev *d = ctx;
	ret_slot[0] = d->slot[0];
	ret_slot[1] = d->slot[1];
	*ret_active = d->active;
}

static void a_health(void *ctx, struct ag_msg_heartbeat *hb)
{
	struct dev *d = ctx;
	hb->crash_count = d->crash_count;
	hb->error_count = d->error_count;
	hb->reset_reason = d->reset_reason;
	hb->n_stacks = 0;
}

static int a_ota_begin(void *ctx, const struct ag_msg_ota_offer *o, uint32_t *ret_offset)
{
	struct dev *d = ctx;
	if (o->slot > 1 || o->slot == d->active)
		return AG_ESLOT;
	if (o->kind != AG_OTA_FULL)
		return AG_EPATCH;
	if (o->image_size > sim.slot_size || o->size != o->image_size)
		return AG_ENOSPC;
	if (!d->flash[o->slot]) {
		d->flash[o->slot] = malloc(sim.slot_size);
		if (!d->flash[o->slot])
			return AG_ENOSPC;
		memset(d->flash[o->slot], 0xff, sim.slot_size);
	}
	if (o->xfer != d->xfer || o->slot != d->xfer_slot)
		d->xfer_off = 0;
	d->xfer = o->xfer;
	d->xfer_slot = o->slot;
	d->xfer_size = o->size;
	d->image_size = o->image_size;
	d->xfer_version = o->version;
	memcpy(d->sha, o->sha256, 32);
	d->slot[o->slot].state = AG_SLOT_EMPTY;
	*ret_offset = d->xfer_off;
	return 0;
}

static int a_ota_write(void *ctx, uint32_t offset, const uint8_t *data, size_t len)
{
	struct dev *d = ctx;
	if (!d->flash[d->xfer_slot] || (uint64_t)offset + len > sim.slot_size)
		return AG_EFLASH;
	memcpy(d->flash[d->xfer_slot] + offset, data, len);
	d->xfer_off = offset + (uint32_t)len;
	return 0;
}

static int a_ota_finish(void *ctx, uint32_t size)
{
	struct dev *d = ctx;
	uint8_t h[32];
	if (size != d->image_size || !d->flash[d->xfer_slot])
		return AG_EIMAGE;
	if (mbedtls_sha256_ret(d->flash[d->xfer_slot], size, h, 0) != 0)
		return AG_EIMAGE;
	if (memcmp(h, d->sha, 32) != 0)
		return AG_EHASH;
	d->slot[d->xfer_slot].version = d->xfer_version;
	d->slot[d->xfer_slot].state = AG_SLOT_PENDING;
	d->xfer_off = 0;
	sim.st.ota_done++;
	return 0;
}

static void a_ota_abort(void *ctx, int reason)
{
	(void)ctx;
	(void)reason;
}

static int a_activate(void *ctx, uint8_t slot, bool permanent)
{
	struct dev *d = ctx;
	if (slot > 1 || (d->slot[slot].state != AG_SLOT_PENDING &&
			 d->slot[slot].state != AG_SLOT_CONFIRMED))
		return AG_ESTATE;
	d->boot_next = slot;
	d->boot_permanent = permanent;
	return 0;
}

static void a_reboot(void *ctx, uint32_t delay_ms)
{
	struct dev *d = ctx;
	d->reboot_at = gw_now_ms() + delay_ms + 1;
	schedule(d, d->reboot_at);
}

static const struct ag_agent_ops a_ops = {
	.write = a_write,
	.slots = a_slots,
	.health = a_health,
	.ota_begin = a_ota_begin,
	.ota_write = a_ota_write,
	.ota_finish = a_ota_finish,
	.ota_abort = a_ota_abort,
	.activate = a_activate,
	.reboot = a_reboot,
};

static void on_io(struct gw_watch *w, uint32_t events);

static void link_down(struct dev *d)
{
	if (d->w.fd >= 0) {
		gw_loop_del(sim.loop, &d->w);
		close(d->w.fd);
		d->w.fd = -1;
	}
	if (d->keep_slave >= 0) {
		close(d->keep_slave);
		d->keep_slave = -1;
	}
	if (d->state != DOWN)
		sim.st.disconnects++;
	d->state = DOWN;
	free(d->out);
	d->out = NULL;
	d->out_len = 0;
	fifo_clear(&d->tx);
	fifo_clear(&d->rx);
}

static void schedule_crash(struct dev *d, uint64_t now)
{
	if (sim.crash_per_s <= 0) {
		d->crash_at = 0;
		return;
	}
	double t = -log(1 - rnd01(&d->rng)) / sim.crash_per_s;
	d->crash_at = now + (uint64_t)(t * 1000.0) + 1;
	schedule(d, d->crash_at);
}

static int pty_open(struct dev *d)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	char name[64], path[300], tmp[310];
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name))) {
		if (m >= 0)
			close(m);
		return -1;
	}
	struct termios t;
	if (tcgetattr(m, &t) == 0) {
		cfmakeraw(&t);
		(void)tcsetattr(m, TCSANOW, &t);
	}
	d->keep_slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (d->keep_slave >= 0 && tcgetattr(d->keep_slave, &t) == 0) {
		cfmakeraw(&t);
		(void)tcsetattr(d->keep_slave, TCSANOW, &t);
	}
	snprintf(path, sizeof(path), "%s/%s", sim.pty_dir, d->a.id.device_id);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	(void)unlink(tmp);
	if (symlink(name, tmp) != 0 || rename(tmp, path) != 0) {
		close(m);
		return -1;
	}
	return m;
}

/* Opens the device's link: its pty, or a TCP connection to the gateway. */
static void connect_link(struct dev *d, uint64_t now)
{
	d->w.ctx = d;
	d->w.fn = on_io;
	if (sim.pty_dir[0]) {
		d->w.fd = pty_open(d);
		if (d->w.fd < 0 || gw_loop_add(sim.loop, &d->w, EPOLLIN) != 0) {
			gw_error("cannot open a pty", "device=%u", (unsigned)d->idx);
			link_down(d);
			return;
		}
		d->state = UP;
		sim.st.connects++;
		(void)ag_agent_start(&d->a, (uint32_t)now);
		schedule(d, now);
		return;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		d->reconnecting = 1;
		d->reboot_at = now + 1000;
		schedule(d, d->reboot_at);
		return;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(sim.gw_port)};
	sa.sin_addr.s_addr = sim.gw_ip;
	d->w.fd = fd;
	d->state = CONNECTING;
	if ((connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) ||
	    gw_loop_add(sim.loop, &d->w, EPOLLOUT | EPOLLIN) != 0) {
		link_down(d);
		d->reconnecting = 1;
		d->reboot_at = now + 1000 + rnd(&d->rng) % 1000; /* retry the connect */
		schedule(d, d->reboot_at);
	}
}

/* Boots the device: picks the slot, runs the self-test, starts the agent and the link. */
static void boot(struct dev *d, uint64_t now)
{
	if (d->reconnecting) {
		d->reconnecting = 0;
		connect_link(d, now);
		return;
	}
	uint8_t prev = d->active;
	int16_t confirm = 1; /* 1: nothing to report */
	uint8_t cslot = 0;
	if (d->boot_next != d->active && d->slot[d->boot_next].state == AG_SLOT_PENDING) {
		cslot = d->boot_next;
		if (is_bad(&d->slot[cslot].version)) {
			/* self-test fails: the bootloader reverts */
			d->slot[cslot].state = AG_SLOT_BAD;
			d->boot_next = prev;
			confirm = AG_ENOIMAGE;
			sim.st.self_test_fail++;
		} else {
			d->slot[cslot].state = AG_SLOT_CONFIRMED;
			d->active = cslot;
			confirm = 0;
		}
	}
	d->boot_count++;
	if (d->inited) {
		sim.st.hellos += d->a.stats.hellos;
		sim.st.heartbeats += d->a.stats.heartbeats;
	}
	struct ag_agent_identity id;
	memset(&id, 0, sizeof(id));
	snprintf(id.device_id, sizeof(id.device_id), "%s%05u", sim.prefix, (unsigned)d->idx);
	snprintf(id.hw_id, sizeof(id.hw_id), "%s", sim.hw_id);
	id.caps = AG_CAP_RESUME;
	id.boot_count = d->boot_count;
	struct ag_agent_config cfg;
	ag_agent_config_default(&cfg);
	cfg.heartbeat_s = sim.heartbeat_s;
	cfg.link.nonce = (uint32_t)rnd(&d->rng);
	if (ag_agent_init(&d->a, &cfg, &id, &a_ops, d) != 0) {
		gw_error("cannot start an agent", "device=%u", (unsigned)d->idx);
		return;
	}
	d->inited = 1;
	if (confirm != 1)
		ag_agent_report_confirm(&d->a, cslot, confirm, &d->slot[cslot].version);
	schedule_crash(d, now);
	connect_link(d, now);
}

static void reconnect_later(struct dev *d, uint64_t now)
{
	link_down(d);
	d->reconnecting = 1; /* reconnecting is not a boot */
	d->reboot_at = now + 500 + rnd(&d->rng) % 1000;
	schedule(d, d->reboot_at);
}

static void on_io(struct gw_watch *w, uint32_t events)
{
	struct dev *d = w->ctx;
	uint64_t now = gw_now_ms();
	if (d->state == CONNECTING) {
		int err = 0;
		socklen_t sl = sizeof(err);
		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0 || err != 0 ||
		    (events & (EPOLLERR | EPOLLHUP))) {
			reconnect_later(d, now);
			return;
		}
		d->state = UP;
		sim.st.connects++;
		(void)gw_loop_mod(sim.loop, &d->w, EPOLLIN);
		(void)ag_agent_start(&d->a, (uint32_t)now);
		schedule(d, now);
		return;
	}
	if (events & EPOLLOUT) {
		ssize_t n = write(w->fd, d->out, d->out_len);
		if (n > 0) {
			memmove(d->out, d->out + n, d->out_len - (size_t)n);
			d->out_len -= (uint32_t)n;
		}
		if (d->out_len == 0)
			(void)gw_loop_mod(sim.loop, &d->w, EPOLLIN);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		uint8_t buf[READ_MAX];
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			reconnect_later(d, now);
			return;
		}
		if (sim.loss > 0 && rnd01(&d->rng) < sim.loss) {
			sim.st.lost_frames++;
			return;
		}
		impair(d, buf, (size_t)n);
		if (sim.rate || sim.latency_ms) {
			fifo_push(d, &d->rx, buf, (size_t)n, now);
			return;
		}
		ag_agent_input(&d->a, buf, (size_t)n, (uint32_t)now);
		schedule(d, now + ag_agent_poll(&d->a, (uint32_t)now));
	}
}

static void crash(struct dev *d, uint64_t now)
{
	sim.st.crashes++;
	d->crash_count++;
	d->reset_reason = 3; /* a fault */
	link_down(d);
	d->reboot_at = now + 200 + rnd(&d->rng) % 800;
	schedule(d, d->reboot_at);
}

static void run_timer(struct dev *d, uint64_t now)
{
	if (d->reboot_at && now >= d->reboot_at) {
		int requested = d->state == UP;
		d->reboot_at = 0;
		if (requested) {
			sim.st.reboots++;
			d->reset_reason = 1; /* software reset */
			link_down(d);
		}
		boot(d, now);
		return;
	}
	if (d->crash_at && now >= d->crash_at) {
		if (d->state != DOWN) {
			d->crash_at = 0;
			crash(d, now);
			return;
		}
		schedule_crash(d, now); /* down already: the next one */
	}
	while (d->tx.head && d->tx.head->due <= now) {
		struct chunk *c = d->tx.head;
		d->tx.head = c->next;
		if (!d->tx.head)
			d->tx.tail = NULL;
		sock_write(d, c->data, c->len);
		free(c);
	}
	while (d->rx.head && d->rx.head->due <= now) {
		struct chunk *c = d->rx.head;
		d->rx.head = c->next;
		if (!d->rx.head)
			d->rx.tail = NULL;
		ag_agent_input(&d->a, c->data, c->len, (uint32_t)now);
		free(c);
	}
	if (d->state == UP) {
		uint64_t next = now + ag_agent_poll(&d->a, (uint32_t)now);
		if (d->tx.head && d->tx.head->due < next)
			next = d->tx.head->due;
		if (d->rx.head && d->rx.head->due < next)
			next = d->rx.head->due;
		schedule(d, next);
	}
	if (d->crash_at)
		schedule(d, d->crash_at);
	if (d->reboot_at)
		schedule(d, d->reboot_at);
}

static void write_stats(int final)
{
	unsigned connected = 0, ready = 0;
	uint64_t hellos = sim.st.hellos, heartbeats = sim.st.heartbeats, errors_in = 0, frames_in = 0, frames_out = 0;
	for (unsigned i = 0; i < sim.started; i++) {
		struct dev *d = &sim.devs[i];
		connected += d->state == UP;
		ready += d->state == UP && ag_agent_is_ready(&d->a);
		hellos += d->a.stats.hellos;
		heartbeats += d->a.stats.heartbeats;
		errors_in += d->a.stats.errors_in;
		frames_in += d->a.link.stats.frames_in;
		frames_out += d->a.link.stats.frames_out;
	}
	char line[1024];
	int n = snprintf(line, sizeof(line),
			 "{\"devices\":%u,\"started\":%u,\"connected\":%u,\"ready\":%u,"
			 "\"hellos\":%llu,\"heartbeats\":%llu,\"errors_in\":%llu,"
			 "\"connects\":%llu,\"disconnects\":%llu,\"crashes\":%llu,\"reboots\":%llu,"
			 "\"self_test_failures\":%llu,\"ota_done\":%llu,\"lost_frames\":%llu,"
			 "\"bit_errors\":%llu,\"final\":%s}\n",
			 sim.n, sim.started, connected, ready, (unsigned long long)hellos,
			 (unsigned long long)heartbeats, (unsigned long long)errors_in,
			 (unsigned long long)sim.st.connects, (unsigned long long)sim.st.disconnects,
			 (unsigned long long)sim.st.crashes, (unsigned long long)sim.st.reboots,
			 (unsigned long long)sim.st.self_test_fail, (unsigned long long)sim.st.ota_done,
			 (unsigned long long)sim.st.lost_frames, (unsigned long long)sim.st.bit_errors,
			 final ? "true" : "false");
	(void)frames_in;
	(void)frames_out;
	if (sim.stats_path[0]) {
		char tmp[220];
		snprintf(tmp, sizeof(tmp), "%s.tmp", sim.stats_path);
		FILE *f = fopen(tmp, "w");
		if (f) {
			fwrite(line, 1, (size_t)n, f);
			fclose(f);
			(void)rename(tmp, sim.stats_path);
		}
	}
	if (final)
		fputs(line, stdout);
}

static void on_signal(int sig)
{
	(void)sig;
	sim.stop = 1;
}

static int parse_version(const char *s, struct ag_version *v)
{
	unsigned a, b, c;
	char tail;
	if (sscanf(s, "%u.%u.%u%c", &a, &b, &c, &tail) != 3 || a > 255 || b > 255 || c > 65535)
		return -1;
	*v = (struct ag_version){(uint8_t)a, (uint8_t)b, (uint16_t)c, 0};
	return 0;
}

static void usage(const char *prog)
{
	printf("usage: %s [options]\n"
	       "Runs N virtual devices (the real ag_agent, two in-memory slots each) against a\n"
	       "gateway, over TCP or ptys. Same seed, same fleet.\n\n"
	       "  --devices N          devices (default 100)\n"
	       "  --connect HOST:PORT  gateway TCP listener (default 127.0.0.1:7700)\n"
	       "  --pty-dir DIR        instead of TCP: a pty per device, slave linked at DIR/<id>\n"
	       "  --seed N             random seed (default 1)\n"
	       "  --id-prefix S        device ids are S00000, S00001, ... (default sim-)\n"
	       "  --hw-id S            hardware id (default flotilla-fleetsim)\n"
	       "  --version X.Y.Z      firmware in slot A at first boot (default 1.0.0)\n"
	       "  --bad-version X.Y.Z  a version whose self-test fails after an update; repeatable\n"
	       "  --heartbeat-s N      heartbeat until the gateway sets one (default 30)\n"
	       "  --rate BYTES_PER_S   line rate per direction, 0 unlimited (default 0)\n"
	       "  --latency-ms N       one-way latency (default 0)\n"
	       "  --loss P             probability a frame (write or read) is lost (default 0)\n"
	       "  --ber P              bit error rate (default 0)\n"
	       "  --crash-per-hour X   crashes per device per hour (default 0)\n"
	       "  --slot-size BYTES    simulated slot size (default 262144; allocated on use)\n"
	       "  --ramp N             device boots started per second (default 2000)\n"
	       "  --duration S         stop after S seconds (default: run until SIGTERM)\n"
	       "  --stats PATH         rewrite a JSON status line here twice a second\n",
	       prog);
}

static int parse_args(int argc, char **argv)
{
	sim.n = 100;
	sim.seed = 1;
	snprintf(sim.prefix, sizeof(sim.prefix), "sim-");
	snprintf(sim.hw_id, sizeof(sim.hw_id), "flotilla-fleetsim");
	(void)gw_config_parse_addr("127.0.0.1:7700", &sim.gw_ip, &sim.gw_port);
	sim.heartbeat_s = 30;
	sim.version = (struct ag_version){1, 0, 0, 0};
	sim.slot_size = 256 * 1024;
	sim.ramp = 2000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0) {
			usage(argv[0]);
			exit(0);
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "fleetsim: %s needs a value (see --help)\n", a);
			return -1;
		}
		const char *v = argv[++i];
		char *end = NULL;
		int bad = 0;
		if (strcmp(a, "--devices") == 0) {
			unsigned long x = strtoul(v, &end, 10);
			bad = *end || x == 0 || x > 100000;
			sim.n = (unsigned)x;
		} else if (strcmp(a, "--connect") == 0) {
			bad = gw_config_parse_addr(v, &sim.gw_ip, &sim.gw_port) != 0;
		} else if (strcmp(a, "--pty-dir") == 0) {
			bad = strlen(v) >= sizeof(sim.pty_dir) - 40;
			snprintf(sim.pty_dir, sizeof(sim.pty_dir), "%s", v);
		} else if (strcmp(a, "--seed") == 0) {
			sim.seed = strtoull(v, &end, 10);
			bad = *end != 0;
		} else if (strcmp(a, "--id-prefix") == 0) {
			bad = strlen(v) > 10 || strlen(v) == 0;
			snprintf(sim.prefix, sizeof(sim.prefix), "%s", v);
		} else if (strcmp(a, "--hw-id") == 0) {
			bad = strlen(v) > AG_ID_MAX;
			snprintf(sim.hw_id, sizeof(sim.hw_id), "%s", v);
		} else if (strcmp(a, "--version") == 0) {
			bad = parse_version(v, &sim.version) != 0;
		} else if (strcmp(a, "--bad-version") == 0) {
			bad = sim.n_bad >= BAD_MAX || parse_version(v, &sim.bad[sim.n_bad++]) != 0;
		} else if (strcmp(a, "--heartbeat-s") == 0) {
			unsigned long x = strtoul(v, &end, 10);
			bad = *end || x == 0 || x > 3600;
			sim.heartbeat_s = (uint16_t)x;
		} else if (strcmp(a, "--rate") == 0) {
			sim.rate = (uint32_t)strtoul(v, &end, 10);
			bad = *end != 0;
		} else if (strcmp(a, "--latency-ms") == 0) {
			sim.latency_ms = (uint32_t)strtoul(v, &end, 10);
			bad = *end || sim.latency_ms > 60000;
		} else if (strcmp(a, "--loss") == 0) {
			sim.loss = strtod(v, &end);
			bad = *end || sim.loss < 0 || sim.loss >= 1;
		} else if (strcmp(a, "--ber") == 0) {
			sim.ber = strtod(v, &end);
			bad = *end || sim.ber < 0 || sim.ber >= 0.5;
		} else if (strcmp(a, "--crash-per-hour") == 0) {
			double x = strtod(v, &end);
			bad = *end || x < 0;
			sim.crash_per_s = x / 3600.0;
		} else if (strcmp(a, "--slot-size") == 0) {
			unsigned long x = strtoul(v, &end, 10);
			bad = *end || x < 1024 || x > 16u * 1024 * 1024;
			sim.slot_size = (uint32_t)x;
		} else if (strcmp(a, "--ramp") == 0) {
			sim.ramp = (uint32_t)strtoul(v, &end, 10);
			bad = *end || sim.ramp == 0;
		} else if (strcmp(a, "--duration") == 0) {
			sim.duration_s = strtod(v, &end);
			bad = *end || sim.duration_s < 0;
		} else if (strcmp(a, "--stats") == 0) {
			bad = strlen(v) >= sizeof(sim.stats_path) - 8;
			snprintf(sim.stats_path, sizeof(sim.stats_path), "%s", v);
		} else {
			fprintf(stderr, "fleetsim: unknown option %s (see --help)\n", a);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "fleetsim: bad value for %s: %s\n", a, v);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (parse_args(argc, argv) != 0)
		return 2;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (gw_loop_new(&sim.loop) != 0)
		return 1;
	sim.devs = calloc(sim.n, sizeof(*sim.devs));
	if (!sim.devs)
		return 1;
	uint64_t t0 = gw_now_ms();
	for (unsigned i = 0; i < sim.n; i++) {
		struct dev *d = &sim.devs[i];
		d->idx = i;
		d->w.fd = -1;
		d->keep_slave = -1;
		d->rng = sim.seed * 0x100000001b3ull + i;
		(void)rnd(&d->rng);
		d->slot[0].version = sim.version;
		d->slot[0].state = AG_SLOT_CONFIRMED;
		d->active = d->boot_next = 0;
	}
	gw_info("fleetsim starting", "devices=%u seed=%llu mode=%s", sim.n,
		(unsigned long long)sim.seed, sim.pty_dir[0] ? "pty" : "tcp");
	uint64_t next_stats = t0;
	while (!sim.stop) {
		uint64_t now = gw_now_ms();
		/* boot devices at the ramp rate */
		uint64_t want = (now - t0) * sim.ramp / 1000u + 1;
		while (sim.started < sim.n && sim.started < want)
			boot(&sim.devs[sim.started++], now);
		while (sim.heap_n && sim.heap[0].due <= now) {
			struct heap_ent e = heap_pop();
			struct dev *d = &sim.devs[e.idx];
			if (d->due != e.due)
				continue; /* superseded */
			d->due = 0;
			run_timer(d, now);
		}
		if (now >= next_stats) {
			write_stats(0);
			next_stats = now + 500;
		}
		if (sim.duration_s > 0 && (double)(now - t0) >= sim.duration_s * 1000.0)
			break;
		int wait = 50;
		if (sim.heap_n) {
			uint64_t due = sim.heap[0].due;
			wait = due > now ? (int)(due - now < 50 ? due - now : 50) : 0;
		}
		if (sim.started < sim.n)
			wait = wait > 1 ? 1 : wait;
		(void)gw_loop_run_once(sim.loop, wait);
	}
	write_stats(1);
	for (unsigned i = 0; i < sim.n; i++) {
		link_down(&sim.devs[i]);
		free(sim.devs[i].flash[0]);
		free(sim.devs[i].flash[1]);
		if (sim.pty_dir[0] && i < sim.started) {
			char path[300];
			snprintf(path, sizeof(path), "%s/%s", sim.pty_dir, sim.devs[i].a.id.device_id);
			(void)unlink(path);
		}
	}
	free(sim.devs);
	free(sim.heap);
	gw_loop_free(sim.loop);
	return 0;
}
