/* version.h - the build's version: git describe, or the project version. */
#ifndef KR_CORE_VERSION_H
#define KR_CORE_VERSION_H

extern const char kr_version[];

#endif
