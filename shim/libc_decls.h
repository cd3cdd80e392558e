// Declarations the shim interposes but the public headers hide (fortify's _chk variants, the C++ ABI's
// static-init guards), and every header the interposition table's signatures need.
#pragma once

#include <dlfcn.h>
#include <grp.h>
#include <iconv.h>
#include <libintl.h>
#include <link.h>
#include <locale.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <sys/socket.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

extern "C" {
// libgcc's registry of unwind tables (unwind-dw2-fde.h; `ob` is its struct object, opaque here).
void __register_frame_info(const void* begin, void* ob);
void __register_frame_info_bases(const void* begin, void* ob, void* tbase, void* dbase);
void __register_frame_info_table(void* begin, void* ob);
void __register_frame_info_table_bases(void* begin, void* ob, void* tbase, void* dbase);
void __register_frame(void* begin);
void __register_frame_table(void* begin);
// glibc's exit-handler registry (stdlib/cxa_atexit.c, cxa_finalize.c, cxa_at_quick_exit.c): what atexit and
// at_quick_exit (libc_nonshared.a) and C++ static destructors call.
int __cxa_atexit(void (*func)(void*), void* arg, void* dso_handle);
int __cxa_at_quick_exit(void (*func)(void), void* dso_handle);
void __cxa_finalize(void* dso_handle);
int __printf_chk(int flag, const char* format, ...);
int __fprintf_chk(FILE* stream, int flag, const char* format, ...);
int __sprintf_chk(char* s, int flag, size_t slen, const char* format, ...);
int __snprintf_chk(char* s, size_t maxlen, int flag, size_t slen, const char* format, ...);
int __vprintf_chk(int flag, const char* format, va_list ap);
int __vfprintf_chk(FILE* stream, int flag, const char* format, va_list ap);
int __vsprintf_chk(char* s, int flag, size_t slen, const char* format, va_list ap);
int __vsnprintf_chk(char* s, size_t maxlen, int flag, size_t slen, const char* format, va_list ap);
int __dprintf_chk(int fd, int flag, const char* format, ...);
int __vdprintf_chk(int fd, int flag, const char* format, va_list ap);
size_t __fread_chk(void* ptr, size_t ptrlen, size_t size, size_t n, FILE* stream);
char* __fgets_chk(char* s, size_t size, int n, FILE* stream);
void __syslog_chk(int priority, int flag, const char* format, ...);
void __vsyslog_chk(int priority, int flag, const char* format, va_list ap);
// glibc: pthread_atfork (libc_nonshared.a) calls this with the caller's __dso_handle.
int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void* dso_handle);
// Itanium C++ ABI 3.3.2: the guard is a 64-bit object whose first byte says "initialised".
int __cxa_guard_acquire(int64_t* guard);
void __cxa_guard_release(int64_t* guard);
void __cxa_guard_abort(int64_t* guard);
}
