/*-------------------------------------------------------------------------
 *
 * pure.h
 *	  What the pure modules share: the code built both into the extension
 *	  and, with FRONTEND defined, into the C unit tests (test/unit).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PURE_H
#define PURE_H

/*
 * Deep recursion over nested documents, paths and expressions checks the
 * stack in the server; the unit tests have no such limit.
 */
#ifdef FRONTEND
#define PURE_CHECK_STACK()			((void) 0)
#else
#include "miscadmin.h"
#define PURE_CHECK_STACK()			check_stack_depth()
#endif

#endif							/* PURE_H */
