/* Shared definitions for every public pipewright header: export macro and versions. */
#ifndef PIPEWRIGHT_COMMON_H
#define PIPEWRIGHT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(PW_BUILDING_LIBRARY) && defined(__GNUC__)
#define PW_EXTERN __attribute__((visibility("default")))
#else
#define PW_EXTERN
#endif

#if defined(__GNUC__)
#define PW_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PW_PRINTF(fmt, args)
#endif

#ifdef __cplusplus
#define PW_BEGIN_DECLS extern "C" {
#define PW_END_DECLS }
#else
#define PW_BEGIN_DECLS
#define PW_END_DECLS
#endif

/* The connector-system version (the seed's "Connector System Version"). */
#define PW_CONNECTOR_SYSTEM_VERSION "1.0.0"
/* The seed's default step timeout, in seconds. */
#define PW_DEFAULT_TIMEOUT_SECONDS 300

PW_BEGIN_DECLS

/* The connector-system version string; static, never freed. */
PW_EXTERN const char *pw_version(void);

/* Memory that crosses the library boundary (plan text, strings handed to the library by
 * plug-ins) is allocated and released with these; they never return NULL for size > 0
 * unless memory is exhausted. */
PW_EXTERN void *pw_malloc(size_t size);
PW_EXTERN void *pw_calloc(size_t n, size_t size);
PW_EXTERN void *pw_realloc(void *ptr, size_t size);
PW_EXTERN char *pw_strdup(const char *s);
PW_EXTERN void pw_free(void *ptr);

PW_END_DECLS

#endif
