/*-------------------------------------------------------------------------
 *
 * bson_json_int.h
 *	  Internals shared by the Extended JSON parser (bson_json.c), its
 *	  wrapper conversion (bson_ejson.c) and byte validation
 *	  (bson_validate.c).  Not for other modules: use bson_json.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_BSON_JSON_INT_H
#define NOSQL_BSON_JSON_INT_H

#include "common/jsonapi.h"

#include "bson_json.h"

typedef enum EjsonFrameKind
{
	FRAME_PENDING,				/* object whose first key is not seen yet */
	FRAME_DOCUMENT,				/* ordinary object, streamed into its parent */
	FRAME_ARRAY,				/* array, streamed into its parent */
	FRAME_WRAPPER				/* object starting with a wrapper keyword */
} EjsonFrameKind;

/* Nested frames beyond this many are allocated one by one */
#define EJSON_STACK_FRAMES	8
/* Wrapper objects can nest inside each other: bound all frames */
#define EJSON_MAX_FRAMES	(2 * BSON_MAX_DEPTH + 2)

typedef struct EjsonFrame
{
	bson_t		child;			/* DOCUMENT/ARRAY below a parent; first, for
								 * libbson's alignment */
	EjsonFrameKind kind;
	bson_t	   *target;			/* where the members are appended */
	bson_t	   *wrapper;		/* WRAPPER: members collected here */
	const char *key;			/* key in the parent; NULL for the top value */
	int			keylen;
	uint32_t	index;			/* ARRAY: index of the next element */
	bool		plain_number;	/* WRAPPER: a member is a plain JSON number */
	bool		strict;			/* WRAPPER: its keyword must spell a value */
	bool		counted;		/* counted against the nesting limit */
	char		keybuf[16];		/* storage of key when it is an array index */
} EjsonFrame;

typedef struct EjsonState
{
	JsonLexContext *lex;
	bson_t	   *root;
	bool		is_scalar;
	int			nframes;		/* frames in use */
	int			nallocated;		/* frames[] entries that point somewhere */
	int			depth;			/* documents and arrays among them */
	EjsonFrame *frames[EJSON_MAX_FRAMES];
	void	   *frame_blocks[EJSON_MAX_FRAMES];	/* allocations to free */
	const char *key;			/* key of the value being parsed */
	int			keylen;
	char		keybuf[16];
	bool		failed;
	char	   *errmsg;
} EjsonState;

#ifdef FRONTEND
#define EJSON_FAIL(st, ...) \
	do { \
		if (!(st)->failed) \
			(st)->errmsg = psprintf(__VA_ARGS__); \
		(st)->failed = true; \
	} while (0)
#else
#define EJSON_FAIL(st, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), \
			 errmsg("invalid input syntax for type bson"), \
			 errdetail(__VA_ARGS__)))
#endif

/*
 * Keywords that start a wrapper.  The strict ones must spell a value; the
 * others fall back to an ordinary document when they do not.
 */
typedef struct EjsonKeyword
{
	const char *name;
	bool		strict;
} EjsonKeyword;

/* Shorthand for checking the type of a member of a wrapper */
#define ITER_IS(it, t) (bson_iter_type(it) == (t))

/* bson_ejson.c */
extern const EjsonKeyword *EjsonFindKeyword(const char *key, int keylen);
extern bool EjsonAppendWrapper(EjsonState *st, bson_t *target, const char *key,
							   int keylen, const bson_t *wrapper, bool plain_number);
extern bool EjsonRegexOptions(const char *in, size_t inlen, char *out, size_t outsize);
extern int	EjsonHexValue(char c);
extern bool EjsonMember(const bson_t *doc, const char *name, bson_iter_t *it);
extern bool EjsonHasExactly(const bson_t *doc, const char *a, const char *b);
extern void EjsonAppendCode(bson_t *target, const char *key, int keylen,
							const char *code, uint32_t code_len, const bson_t *scope);

#endif							/* NOSQL_BSON_JSON_INT_H */
