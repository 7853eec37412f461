#include "core/fault.h"

#include <stdatomic.h>

static _Atomic long countdown[KR_FAULT_SITE_COUNT];
static _Atomic long fired[KR_FAULT_SITE_COUNT];
static _Atomic bool armed;

void kr_fault_arm(enum kr_fault_site site, long n)
{
    atomic_store(&countdown[site], n);
    atomic_store(&fired[site], 0);
    atomic_store(&armed, true);
}

void kr_fault_disarm(void)
{
    for (int i = 0; i < KR_FAULT_SITE_COUNT; i++)
        atomic_store(&countdown[i], 0);
    atomic_store(&armed, false);
}

bool kr_fault_hit(enum kr_fault_site site)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed))
        return false;
    long n = atomic_load(&countdown[site]);
    if (n <= 0)
        return false;
    if (atomic_fetch_sub(&countdown[site], 1) == 1) {
        atomic_fetch_add(&fired[site], 1);
        return true;
    }
    return false;
}

long kr_fault_fired(enum kr_fault_site site)
{
    return atomic_load(&fired[site]);
}
