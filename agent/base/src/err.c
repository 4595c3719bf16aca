#include "agent/err.h"

const char *ag_strerror(int err)
{
	switch (err) {
	case AG_OK: return "ok";
	case AG_EINVAL: return "invalid argument";
	case AG_ENOSPC: return "no space";
	case AG_EAGAIN: return "try again";
	case AG_ETIMEDOUT: return "timed out";
	case AG_EIO: return "i/o error";
	case AG_ESTATE: return "wrong state";
	case AG_ENOENT: return "not found";
	case AG_ECANCELED: return "canceled";
	case AG_ETRUNC: return "truncated";
	case AG_ETOOBIG: return "too big";
	case AG_ECRC: return "bad crc";
	case AG_EGARBAGE: return "garbage";
	case AG_ERESET: return "link reset";
	case AG_EVERSION: return "unsupported version";
	case AG_ETYPE: return "unknown type";
	case AG_EMALFORMED: return "malformed";
	case AG_EHASH: return "hash mismatch";
	case AG_ESIG: return "bad signature";
	case AG_EHWID: return "wrong hardware id";
	case AG_ESECCNT: return "security counter too low";
	case AG_EIMAGE: return "bad image";
	case AG_EPATCH: return "bad patch";
	case AG_EFLASH: return "flash error";
	case AG_ENOIMAGE: return "no bootable image";
	case AG_EKEY: return "unknown signing key";
	case AG_ETLV: return "bad tlv area";
	case AG_ESLOT: return "wrong slot";
	case AG_EPATCHBASE: return "patch for another base";
	case AG_EPATCHRANGE: return "patch reads outside old image";
	case AG_EPATCHOVER: return "patch writes past new image";
	case AG_EPATCHCRC: return "patched image crc mismatch";
	case AG_ESTACK: return "stack overflow";
	case AG_EDEADLOCK: return "deadlock";
	}
	return "unknown";
}
