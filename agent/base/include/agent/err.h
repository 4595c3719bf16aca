/**
 * @file err.h
 * @brief The one error enum of everything that runs on a device.
 *
 * Device-side code (agent/, firmware/) returns `int`: 0 or a positive count
 * on success, one of these negative codes on failure. Linux-side code uses
 * negative errno instead; the two are never mixed in one file. The values
 * cross the wire in ERROR and OTA messages, so they are fixed: add new codes
 * at the end of their class, never renumber.
 */
#ifndef AGENT_ERR_H
#define AGENT_ERR_H

/** Device error codes. All failures are negative. */
enum ag_err {
	AG_OK = 0,

	/* generic: -1 .. -15 */
	AG_EINVAL = -1,    /**< bad argument from the caller */
	AG_ENOSPC = -2,    /**< no room: buffer, pool or window full */
	AG_EAGAIN = -3,    /**< try again later (would block) */
	AG_ETIMEDOUT = -4, /**< a deadline passed */
	AG_EIO = -5,       /**< the transport or a device failed */
	AG_ESTATE = -6,    /**< not allowed in the current state */
	AG_ENOENT = -7,    /**< no such object */
	AG_ECANCELED = -8, /**< aborted on request */

	/* framing and link: -16 .. -31 */
	AG_ETRUNC = -16,   /**< input ends before the structure does */
	AG_ETOOBIG = -17,  /**< input longer than its limit */
	AG_ECRC = -18,     /**< checksum mismatch */
	AG_EGARBAGE = -19, /**< bytes that are not a frame at all */
	AG_ERESET = -20,   /**< the peer reset the link */

	/* messages: -32 .. -47 */
	AG_EVERSION = -32,   /**< unsupported protocol version */
	AG_ETYPE = -33,      /**< unknown message type */
	AG_EMALFORMED = -34, /**< a field is out of range or inconsistent */

	/* images, boot, OTA: -48 .. -79 */
	AG_EHASH = -48,     /**< image hash mismatch */
	AG_ESIG = -49,      /**< signature missing or invalid */
	AG_EHWID = -50,     /**< image built for other hardware */
	AG_ESECCNT = -51,   /**< security counter lower than installed (downgrade) */
	AG_EIMAGE = -52,    /**< image header or TLV area malformed */
	AG_EPATCH = -53,    /**< delta patch malformed or for another base */
	AG_EFLASH = -54,    /**< flash read, write or erase failed */
	AG_ENOIMAGE = -55,  /**< no bootable image */
	AG_EKEY = -56,      /**< image signed with a key other than the trusted one */
	AG_ETLV = -57,      /**< image TLV area malformed or overruns its bounds */
	AG_ESLOT = -58,     /**< image linked for another slot (load address) */
	AG_EPATCHBASE = -59,  /**< delta patch made for another old image */
	AG_EPATCHRANGE = -60, /**< delta patch reads outside the old image */
	AG_EPATCHOVER = -61,  /**< delta patch writes past the new image's size */
	AG_EPATCHCRC = -62,   /**< image built by a delta patch fails its CRC */

	/* runtime: -80 .. -95 */
	AG_ESTACK = -80,    /**< stack overflow detected */
	AG_EDEADLOCK = -81, /**< every coroutine is blocked forever */
};

/**
 * @brief A short, stable, lower-case name for an error code ("crc", "trunc").
 * @return a static string; "unknown" for codes not in @ref ag_err.
 */
const char *ag_strerror(int err);

#endif /* AGENT_ERR_H */
