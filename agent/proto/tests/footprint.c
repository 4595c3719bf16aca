/* Cross build only: the RAM one link instance takes, as a symbol whose size
 * the bench reads, and a build failure if it grows past 1.5 KiB. */
#include "agent/link.h"

_Static_assert(sizeof(struct ag_link) <= 1536,
	       "a link instance must fit in 1.5 KiB of device RAM");

char ag_link_footprint[sizeof(struct ag_link)];
