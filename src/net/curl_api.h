/* libcurl, loaded with dlopen the first time a remote connector needs HTTP rather than linked:
 * linked, its dependency tree (TLS, LDAP, Kerberos, SSH, IDN, HTTP/2, compression) was loaded
 * and relocated at every start of the program -- over half of the start-up of a run that only
 * uses the shell. The files that use libcurl include this header instead of <curl/curl.h>;
 * the names below then call through the table. */
#ifndef PW_NET_CURL_API_H
#define PW_NET_CURL_API_H

/* curl.h's type-checking macros would hide the names redirected below */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "pipewright/error.h"

typedef struct pw_curl_api {
	__typeof__(&curl_global_init) global_init;
	__typeof__(&curl_easy_init) easy_init;
	__typeof__(&curl_easy_setopt) easy_setopt;
	__typeof__(&curl_easy_getinfo) easy_getinfo;
	__typeof__(&curl_easy_cleanup) easy_cleanup;
	__typeof__(&curl_easy_strerror) easy_strerror;
	__typeof__(&curl_share_init) share_init;
	__typeof__(&curl_share_setopt) share_setopt;
	__typeof__(&curl_share_cleanup) share_cleanup;
	__typeof__(&curl_multi_init) multi_init;
	__typeof__(&curl_multi_setopt) multi_setopt;
	__typeof__(&curl_multi_add_handle) multi_add_handle;
	__typeof__(&curl_multi_remove_handle) multi_remove_handle;
	__typeof__(&curl_multi_perform) multi_perform;
	__typeof__(&curl_multi_poll) multi_poll;
	__typeof__(&curl_multi_fdset) multi_fdset;
	__typeof__(&curl_multi_info_read) multi_info_read;
	__typeof__(&curl_multi_cleanup) multi_cleanup;
	__typeof__(&curl_multi_strerror) multi_strerror;
	__typeof__(&curl_slist_append) slist_append;
	__typeof__(&curl_slist_free_all) slist_free_all;
	__typeof__(&curl_getdate) getdate;
} pw_curl_api;

extern pw_curl_api pw__curl;

/* Loads libcurl and runs curl_global_init, once per process. Returns 0, or PW_EEXTERNAL with
 * *err naming the library and the package that provides it. Every entry point of the HTTP
 * layer calls it before the first libcurl call. */
int pw__curl_load(pw_error **err);

#ifndef PW_CURL_API_IMPLEMENTATION
/* curl.h maps these four to themselves (a macro per variadic function) */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#undef curl_multi_setopt
#define curl_global_init (pw__curl.global_init)
#define curl_easy_init (pw__curl.easy_init)
#define curl_easy_setopt (pw__curl.easy_setopt)
#define curl_easy_getinfo (pw__curl.easy_getinfo)
#define curl_easy_cleanup (pw__curl.easy_cleanup)
#define curl_easy_strerror (pw__curl.easy_strerror)
#define curl_share_init (pw__curl.share_init)
#define curl_share_setopt (pw__curl.share_setopt)
#define curl_share_cleanup (pw__curl.share_cleanup)
#define curl_multi_init (pw__curl.multi_init)
#define curl_multi_setopt (pw__curl.multi_setopt)
#define curl_multi_add_handle (pw__curl.multi_add_handle)
#define curl_multi_remove_handle (pw__curl.multi_remove_handle)
#define curl_multi_perform (pw__curl.multi_perform)
#define curl_multi_poll (pw__curl.multi_poll)
#define curl_multi_fdset (pw__curl.multi_fdset)
#define curl_multi_info_read (pw__curl.multi_info_read)
#define curl_multi_cleanup (pw__curl.multi_cleanup)
#define curl_multi_strerror (pw__curl.multi_strerror)
#define curl_slist_append (pw__curl.slist_append)
#define curl_slist_free_all (pw__curl.slist_free_all)
#define curl_getdate (pw__curl.getdate)
#endif

#endif
