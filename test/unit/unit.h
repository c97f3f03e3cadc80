/*-------------------------------------------------------------------------
 *
 * unit.h
 *	  A tiny unit test framework for the pure modules of nosql.
 *
 * A test file defines tests with TEST(name) { ... }; they register
 * themselves before main() runs, and unit_main.c runs them in order.
 * Inside a test, CHECK(expr), CHECK_EQ(a, b) (signed integers),
 * CHECK_EQ_U64(a, b) (unsigned integers) and CHECK_STR_EQ(a, b) record a
 * failure with file and line and carry on.  A helper that checks on behalf
 * of its caller reports the caller's position with UnitFail() directly.
 *
 * The runner prints failures as they happen and ends with exactly one line,
 * "unit: N passed, N failed", counting tests (not checks); it exits non-zero
 * if any test failed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_UNIT_H
#define NOSQL_UNIT_H

#include <stdbool.h>
#include <string.h>

/* One registered test */
typedef struct UnitTest
{
	const char *name;
	const char *file;
	void		(*function) (void);
	struct UnitTest *next;
} UnitTest;

/* Add a test to the run list (called by TEST's constructor) */
extern void UnitRegister(UnitTest *test);

/* Record a failed check of the running test and print where it failed */
extern void UnitFail(const char *file, int line, const char *format,...)
			__attribute__((format(__printf__, 3, 4)));

/* Number of checks evaluated so far, for the summary of -v */
extern long UnitChecks;

/* Define and register a test function */
#define TEST(name) \
	static void unit_test_##name(void); \
	static UnitTest unit_entry_##name = {#name, __FILE__, unit_test_##name, NULL}; \
	__attribute__((constructor)) static void \
	unit_register_##name(void) \
	{ \
		UnitRegister(&unit_entry_##name); \
	} \
	static void \
	unit_test_##name(void)

#define CHECK(expr) \
	do { \
		UnitChecks++; \
		if (!(expr)) \
			UnitFail(__FILE__, __LINE__, "CHECK(%s)", #expr); \
	} while (0)

#define CHECK_EQ(a, b) \
	do { \
		long long	unit_a_ = (long long) (a); \
		long long	unit_b_ = (long long) (b); \
		UnitChecks++; \
		if (unit_a_ != unit_b_) \
			UnitFail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", \
					 #a, #b, unit_a_, unit_b_); \
	} while (0)

#define CHECK_EQ_U64(a, b) \
	do { \
		unsigned long long unit_a_ = (unsigned long long) (a); \
		unsigned long long unit_b_ = (unsigned long long) (b); \
		UnitChecks++; \
		if (unit_a_ != unit_b_) \
			UnitFail(__FILE__, __LINE__, \
					 "CHECK_EQ_U64(%s, %s): 0x%llx != 0x%llx", \
					 #a, #b, unit_a_, unit_b_); \
	} while (0)

#define CHECK_STR_EQ(a, b) \
	do { \
		const char *unit_a_ = (a); \
		const char *unit_b_ = (b); \
		UnitChecks++; \
		if (strcmp(unit_a_, unit_b_) != 0) \
			UnitFail(__FILE__, __LINE__, "CHECK_STR_EQ(%s, %s): \"%s\" != \"%s\"", \
					 #a, #b, unit_a_, unit_b_); \
	} while (0)

#endif							/* NOSQL_UNIT_H */
