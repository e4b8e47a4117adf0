/* Loading libcurl on first use (see curl_api.h). */
#define PW_CURL_API_IMPLEMENTATION 1
#include <pthread.h>
#include <stdio.h>

#include "core/dl.h"
#include "net/curl_api.h"

#define CURL_SONAME "libcurl.so.4"

pw_curl_api pw__curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512]; /* why libcurl is unusable; "" when it was loaded */

static void load(void)
{
	const pw_dl_sym syms[] = {
	    {(void **)&pw__curl.global_init, "curl_global_init"},
	    {(void **)&pw__curl.easy_init, "curl_easy_init"},
	    {(void **)&pw__curl.easy_setopt, "curl_easy_setopt"},
	    {(void **)&pw__curl.easy_getinfo, "curl_easy_getinfo"},
	    {(void **)&pw__curl.easy_cleanup, "curl_easy_cleanup"},
	    {(void **)&pw__curl.easy_strerror, "curl_easy_strerror"},
	    {(void **)&pw__curl.share_init, "curl_share_init"},
	    {(void **)&pw__curl.share_setopt, "curl_share_setopt"},
	    {(void **)&pw__curl.share_cleanup, "curl_share_cleanup"},
	    {(void **)&pw__curl.multi_init, "curl_multi_init"},
	    {(void **)&pw__curl.multi_setopt, "curl_multi_setopt"},
	    {(void **)&pw__curl.multi_add_handle, "curl_multi_add_handle"},
	    {(void **)&pw__curl.multi_remove_handle, "curl_multi_remove_handle"},
	    {(void **)&pw__curl.multi_perform, "curl_multi_perform"},
	    {(void **)&pw__curl.multi_poll, "curl_multi_poll"},
	    {(void **)&pw__curl.multi_fdset, "curl_multi_fdset"},
	    {(void **)&pw__curl.multi_info_read, "curl_multi_info_read"},
	    {(void **)&pw__curl.multi_cleanup, "curl_multi_cleanup"},
	    {(void **)&pw__curl.multi_strerror, "curl_multi_strerror"},
	    {(void **)&pw__curl.slist_append, "curl_slist_append"},
	    {(void **)&pw__curl.slist_free_all, "curl_slist_free_all"},
	    {(void **)&pw__curl.getdate, "curl_getdate"},
	};
	if (pw__dl_load(CURL_SONAME, syms, sizeof(syms) / sizeof(syms[0]), "libcurl 7.66 or newer is needed",
	                failure, sizeof(failure)) < 0)
		return;
	CURLcode rc = pw__curl.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		snprintf(failure, sizeof(failure), "curl_global_init: %s", pw__curl.easy_strerror(rc));
}

int pw__curl_load(pw_error **err)
{
	pthread_once(&once, load);
	if (!failure[0])
		return 0;
	pw_error *e = pw_error_new(PW_EEXTERNAL, "HTTP is not available: cannot load libcurl: %s", failure);
	pw_error_set_hint(e, "install libcurl (Debian: apt-get install libcurl4)");
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return PW_EEXTERNAL;
}
