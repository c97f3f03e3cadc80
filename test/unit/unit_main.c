/*-------------------------------------------------------------------------
 *
 * unit_main.c
 *	  Runner of the C unit tests.
 *
 *	  build/unit_tests [-v] [substring ...]
 *
 * Runs every registered test (or those whose name contains one of the
 * substrings), prints each failed check as it happens, and ends with the
 * line "unit: N passed, N failed".  The exit status is 1 if a test failed.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* Failed checks printed per test; the rest are only counted */
#define UNIT_MAX_REPORTED_FAILURES	20

long		UnitChecks = 0;

static UnitTest *unit_first = NULL;
static UnitTest *unit_last = NULL;
static const UnitTest *unit_running = NULL;
static long unit_failures = 0;

/*
 * UnitRegister
 *		Append a test to the run list, keeping definition order.
 */
void
UnitRegister(UnitTest *test)
{
	test->next = NULL;
	if (unit_last == NULL)
		unit_first = test;
	else
		unit_last->next = test;
	unit_last = test;
}

/*
 * UnitFail
 *		Count a failed check of the running test and report the first few.
 */
void
UnitFail(const char *file, int line, const char *format,...)
{
	va_list		args;

	unit_failures++;
	if (unit_failures > UNIT_MAX_REPORTED_FAILURES)
		return;

	fprintf(stderr, "%s:%d: %s: ", file, line,
			unit_running != NULL ? unit_running->name : "?");
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
	fflush(stderr);
}

/*
 * UnitSelected
 *		Whether the command line selects a test (no pattern selects all).
 */
static bool
UnitSelected(const UnitTest *test, int npatterns, char **patterns)
{
	int			i;

	if (npatterns == 0)
		return true;
	for (i = 0; i < npatterns; i++)
	{
		if (strstr(test->name, patterns[i]) != NULL)
			return true;
	}
	return false;
}

/*
 * main
 *		Run the selected tests and print the summary line.
 */
int
main(int argc, char **argv)
{
	const UnitTest *test;
	bool		verbose = false;
	int			passed = 0;
	int			failed = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0)
	{
		verbose = true;
		argc--;
		argv++;
	}

	/* stdout carries the summary; keep it ordered with stderr's reports */
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (test = unit_first; test != NULL; test = test->next)
	{
		if (!UnitSelected(test, argc - 1, argv + 1))
			continue;

		unit_running = test;
		unit_failures = 0;
		test->function();
		unit_running = NULL;

		if (unit_failures == 0)
		{
			passed++;
			if (verbose)
				printf("ok     %s (%s)\n", test->name, test->file);
		}
		else
		{
			failed++;
			printf("FAILED %s (%s): %ld failed check%s\n", test->name,
				   test->file, unit_failures, unit_failures == 1 ? "" : "s");
		}
	}

	if (verbose)
		printf("%ld checks\n", UnitChecks);
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
