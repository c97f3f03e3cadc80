/*-------------------------------------------------------------------------
 *
 * bson_error.c
 *	  Filling a BsonQueryError: the one formatting routine the pure engines
 *	  (filters, updates, projections, sorts, collations) share.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "lib/stringinfo.h"

#include "query.h"

/*
 * Record an error with a printf-style message.  With first_wins, an error
 * already recorded is kept (the engines report the first problem they
 * meet).  Returns false, so that callers can "return ...Fail(...)".
 */
bool
BsonErrorSetV(BsonQueryError *error, bool first_wins, int code, const char *code_name,
			  const char *format, va_list args)
{
	StringInfoData buf;

	if (first_wins && error->message != NULL)
		return false;
	initStringInfo(&buf);
	for (;;)
	{
		va_list		copy;
		int			needed;

		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, format, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	error->code = code;
	error->code_name = code_name;
	error->message = buf.data;
	return false;
}
