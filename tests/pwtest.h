/* A small test harness: PW_TEST(name) defines a case, PW_CHECK* record failures with
 * file:line, PW_TEST_MAIN runs every case (or those named on the command line). */
#ifndef PWTEST_H
#define PWTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*pwt_fn)(void);
struct pwt_case {
	const char *name;
	pwt_fn fn;
};

extern struct pwt_case pwt_cases[];
extern int pwt_case_count;
extern int pwt_failed_checks;

#define PWT_MAX_CASES 512

#define PW_TEST(tname)                                                      \
	static void pwt_##tname(void);                                      \
	__attribute__((constructor)) static void pwt_register_##tname(void) \
	{                                                                   \
		if (pwt_case_count < PWT_MAX_CASES) {                       \
			pwt_cases[pwt_case_count].name = #tname;            \
			pwt_cases[pwt_case_count].fn = pwt_##tname;         \
			pwt_case_count++;                                   \
		}                                                           \
	}                                                                   \
	static void pwt_##tname(void)

#define PW_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			pwt_failed_checks++;                                                       \
		}                                                                                  \
	} while (0)

/* Stops the current case when cond is false (use before dereferencing). */
#define PW_REQUIRE(cond)                                                                       \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "  %s:%d: required: %s\n", __FILE__, __LINE__, #cond); \
			pwt_failed_checks++;                                                   \
			return;                                                                \
		}                                                                              \
	} while (0)

#define PW_CHECK_INT(a, b)                                                                               \
	do {                                                                                             \
		long long pwt_a = (long long)(a), pwt_b = (long long)(b);                                \
		if (pwt_a != pwt_b) {                                                                    \
			fprintf(stderr, "  %s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
			        pwt_a, pwt_b);                                                           \
			pwt_failed_checks++;                                                             \
		}                                                                                        \
	} while (0)

#define PW_CHECK_STR(a, b)                                                                                   \
	do {                                                                                                 \
		const char *pwt_a = (a), *pwt_b = (b);                                                       \
		if (!pwt_a || !pwt_b || strcmp(pwt_a, pwt_b) != 0) {                                         \
			fprintf(stderr, "  %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, \
			        pwt_a ? pwt_a : "(null)", pwt_b ? pwt_b : "(null)");                         \
			pwt_failed_checks++;                                                                 \
		}                                                                                            \
	} while (0)

#define PW_CHECK_CONTAINS(hay, needle)                                                                   \
	do {                                                                                             \
		const char *pwt_h = (hay), *pwt_n = (needle);                                            \
		if (!pwt_h || !strstr(pwt_h, pwt_n)) {                                                   \
			fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
			        pwt_h ? pwt_h : "(null)", pwt_n);                                        \
			pwt_failed_checks++;                                                             \
		}                                                                                        \
	} while (0)

#define PW_CHECK_NOT_CONTAINS(hay, needle)                                                              \
	do {                                                                                            \
		const char *pwt_h = (hay), *pwt_n = (needle);                                           \
		if (pwt_h && strstr(pwt_h, pwt_n)) {                                                    \
			fprintf(stderr, "  %s:%d: \"%s\" contains \"%s\"\n", __FILE__, __LINE__, pwt_h, \
			        pwt_n);                                                                 \
			pwt_failed_checks++;                                                            \
		}                                                                                       \
	} while (0)

/* Defines main(): runs all cases, or the ones named in argv; prints
 * "N passed, N failed" and exits non-zero on any failure. */
#define PW_TEST_MAIN()                                                               \
	struct pwt_case pwt_cases[PWT_MAX_CASES];                                    \
	int pwt_case_count;                                                          \
	int pwt_failed_checks;                                                       \
	int main(int argc, char **argv)                                              \
	{                                                                            \
		int passed = 0, failed = 0;                                          \
		for (int i = 0; i < pwt_case_count; i++) {                           \
			if (argc > 1) {                                              \
				int want = 0;                                        \
				for (int a = 1; a < argc; a++)                       \
					if (strcmp(argv[a], pwt_cases[i].name) == 0) \
						want = 1;                            \
				if (!want)                                           \
					continue;                                    \
			}                                                            \
			int before = pwt_failed_checks;                              \
			fprintf(stderr, "[ RUN  ] %s\n", pwt_cases[i].name);         \
			pwt_cases[i].fn();                                           \
			if (pwt_failed_checks == before) {                           \
				passed++;                                            \
				fprintf(stderr, "[  OK  ] %s\n", pwt_cases[i].name); \
			} else {                                                     \
				failed++;                                            \
				fprintf(stderr, "[ FAIL ] %s\n", pwt_cases[i].name); \
			}                                                            \
		}                                                                    \
		printf("%d passed, %d failed\n", passed, failed);                    \
		return failed ? 1 : 0;                                               \
	}

#endif
