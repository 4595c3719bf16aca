/* libFuzzer: request path checks and query parsing. Input: a path, a
 * newline, a raw query string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t plen = nl ? (size_t)(nl - text) : size;
	(void)gw_http_check_path(text, plen);
	if (nl) {
		struct gw_query q;
		gw_query_init(&q);
		if (gw_query_parse(&q, nl + 1, size - plen - 1) == 0) {
			if (q.limit < 1 || q.limit > GW_HTTP_LIMIT_MAX || q.state < -1 || q.state > 1 ||
			    q.n > GW_HTTP_QUERY_MAX)
				abort();
		}
	}
	return 0;
}
