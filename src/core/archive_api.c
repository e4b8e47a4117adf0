/* Loading libarchive on first use (see archive_api.h). */
#define PW_ARCHIVE_API_IMPLEMENTATION 1
#include <pthread.h>
#include <stdio.h>

#include "core/archive_api.h"
#include "core/dl.h"

#define ARCHIVE_SONAME "libarchive.so.13"

pw_archive_api pw__archive;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512]; /* why libarchive is unusable; "" when it was loaded */

static void load(void)
{
	const pw_dl_sym syms[] = {
	    {(void **)&pw__archive.entry_copy_stat, "archive_entry_copy_stat"},
	    {(void **)&pw__archive.entry_free, "archive_entry_free"},
	    {(void **)&pw__archive.entry_new, "archive_entry_new"},
	    {(void **)&pw__archive.entry_set_filetype, "archive_entry_set_filetype"},
	    {(void **)&pw__archive.entry_set_gid, "archive_entry_set_gid"},
	    {(void **)&pw__archive.entry_set_gname, "archive_entry_set_gname"},
	    {(void **)&pw__archive.entry_set_mtime, "archive_entry_set_mtime"},
	    {(void **)&pw__archive.entry_set_pathname, "archive_entry_set_pathname"},
	    {(void **)&pw__archive.entry_set_perm, "archive_entry_set_perm"},
	    {(void **)&pw__archive.entry_set_size, "archive_entry_set_size"},
	    {(void **)&pw__archive.entry_set_symlink, "archive_entry_set_symlink"},
	    {(void **)&pw__archive.entry_set_uid, "archive_entry_set_uid"},
	    {(void **)&pw__archive.entry_set_uname, "archive_entry_set_uname"},
	    {(void **)&pw__archive.error_string, "archive_error_string"},
	    {(void **)&pw__archive.set_error, "archive_set_error"},
	    {(void **)&pw__archive.write_close, "archive_write_close"},
	    {(void **)&pw__archive.write_data, "archive_write_data"},
	    {(void **)&pw__archive.write_free, "archive_write_free"},
	    {(void **)&pw__archive.write_header, "archive_write_header"},
	    {(void **)&pw__archive.write_new, "archive_write_new"},
	    {(void **)&pw__archive.write_open2, "archive_write_open2"},
	    {(void **)&pw__archive.write_open_fd, "archive_write_open_fd"},
	    {(void **)&pw__archive.write_set_bytes_in_last_block, "archive_write_set_bytes_in_last_block"},
	    {(void **)&pw__archive.write_set_format_pax_restricted,
	     "archive_write_set_format_pax_restricted"},
	    {(void **)&pw__archive.write_set_format_zip, "archive_write_set_format_zip"},
	};
	pw__dl_load(ARCHIVE_SONAME, syms, sizeof(syms) / sizeof(syms[0]), "libarchive 3.3 or newer is needed",
	            failure, sizeof(failure));
}

int pw__archive_load(pw_error **err)
{
	pthread_once(&once, load);
	if (!failure[0])
		return 0;
	pw_error *e =
	    pw_error_new(PW_EEXTERNAL, "cannot write archives: cannot load libarchive: %s", failure);
	pw_error_set_hint(e, "install libarchive (Debian: apt-get install libarchive13)");
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return PW_EEXTERNAL;
}
