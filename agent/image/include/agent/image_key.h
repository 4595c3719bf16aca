/**
 * @file image_key.h
 * @brief The public key a device build trusts (target ag_image_key).
 *
 * Generated at configure time from the FLOTILLA_SIGNING_KEY cache variable
 * (default: a development key in <build>/signing/); see agent/IMAGE.md.
 * The target holds only the key's bytes: link it beside ag_image (or, for a
 * heap-free boot path on the host, ag_image_devcfg).
 */
#ifndef AGENT_IMAGE_KEY_H
#define AGENT_IMAGE_KEY_H

#include "agent/image_pubkey.h"

/** The built-in trusted image-signing key. */
extern const struct ag_image_pubkey ag_image_builtin_key;

#endif /* AGENT_IMAGE_KEY_H */
