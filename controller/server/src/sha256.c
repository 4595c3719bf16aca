/* SHA-256 of an uploaded artifact (OpenSSL's libcrypto). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>

int ctl__sha256_hex(const void *data, size_t len, char out[65]);

int ctl__sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}
