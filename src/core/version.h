/* version.h - the build's version and source revision. */
#ifndef KR_CORE_VERSION_H
#define KR_CORE_VERSION_H

/* The release, from meson.build ("0.1.0"). */
extern const char kr_version[];

/* git describe of the source tree ("f47296e-dirty"), or "unknown". */
extern const char kr_revision[];

#endif
