/* libarchive, loaded with dlopen the first time a tar (Docker build context) or a zip (Lambda
 * code) is written, rather than linked (see core/dl.h). The files that write archives include
 * this header instead of <archive.h> and call pw__archive_load before their first archive call;
 * the names below then call through the table. */
#ifndef PW_CORE_ARCHIVE_API_H
#define PW_CORE_ARCHIVE_API_H

#include <archive.h>
#include <archive_entry.h>

#include "pipewright/error.h"

typedef struct pw_archive_api {
	__typeof__(&archive_entry_copy_stat) entry_copy_stat;
	__typeof__(&archive_entry_free) entry_free;
	__typeof__(&archive_entry_new) entry_new;
	__typeof__(&archive_entry_set_filetype) entry_set_filetype;
	__typeof__(&archive_entry_set_gid) entry_set_gid;
	__typeof__(&archive_entry_set_gname) entry_set_gname;
	__typeof__(&archive_entry_set_mtime) entry_set_mtime;
	__typeof__(&archive_entry_set_pathname) entry_set_pathname;
	__typeof__(&archive_entry_set_perm) entry_set_perm;
	__typeof__(&archive_entry_set_size) entry_set_size;
	__typeof__(&archive_entry_set_symlink) entry_set_symlink;
	__typeof__(&archive_entry_set_uid) entry_set_uid;
	__typeof__(&archive_entry_set_uname) entry_set_uname;
	__typeof__(&archive_error_string) error_string;
	__typeof__(&archive_set_error) set_error;
	__typeof__(&archive_write_close) write_close;
	__typeof__(&archive_write_data) write_data;
	__typeof__(&archive_write_free) write_free;
	__typeof__(&archive_write_header) write_header;
	__typeof__(&archive_write_new) write_new;
	__typeof__(&archive_write_open2) write_open2;
	__typeof__(&archive_write_open_fd) write_open_fd;
	__typeof__(&archive_write_set_bytes_in_last_block) write_set_bytes_in_last_block;
	__typeof__(&archive_write_set_format_pax_restricted) write_set_format_pax_restricted;
	__typeof__(&archive_write_set_format_zip) write_set_format_zip;
} pw_archive_api;

extern pw_archive_api pw__archive;

/* Loads libarchive, once per process. Returns 0, or PW_EEXTERNAL with *err naming the library
 * and the package that provides it. */
int pw__archive_load(pw_error **err);

#ifndef PW_ARCHIVE_API_IMPLEMENTATION
#define archive_entry_copy_stat (pw__archive.entry_copy_stat)
#define archive_entry_free (pw__archive.entry_free)
#define archive_entry_new (pw__archive.entry_new)
#define archive_entry_set_filetype (pw__archive.entry_set_filetype)
#define archive_entry_set_gid (pw__archive.entry_set_gid)
#define archive_entry_set_gname (pw__archive.entry_set_gname)
#define archive_entry_set_mtime (pw__archive.entry_set_mtime)
#define archive_entry_set_pathname (pw__archive.entry_set_pathname)
#define archive_entry_set_perm (pw__archive.entry_set_perm)
#define archive_entry_set_size (pw__archive.entry_set_size)
#define archive_entry_set_symlink (pw__archive.entry_set_symlink)
#define archive_entry_set_uid (pw__archive.entry_set_uid)
#define archive_entry_set_uname (pw__archive.entry_set_uname)
#define archive_error_string (pw__archive.error_string)
#define archive_set_error (pw__archive.set_error)
#define archive_write_close (pw__archive.write_close)
#define archive_write_data (pw__archive.write_data)
#define archive_write_free (pw__archive.write_free)
#define archive_write_header (pw__archive.write_header)
#define archive_write_new (pw__archive.write_new)
#define archive_write_open2 (pw__archive.write_open2)
#define archive_write_open_fd (pw__archive.write_open_fd)
#define archive_write_set_bytes_in_last_block (pw__archive.write_set_bytes_in_last_block)
#define archive_write_set_format_pax_restricted (pw__archive.write_set_format_pax_restricted)
#define archive_write_set_format_zip (pw__archive.write_set_format_zip)
#endif

#endif
