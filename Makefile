# Makefile for the nosql extension (PGXS)
#
#   make                      build
#   make install              install into the PostgreSQL found by $(PG_CONFIG)
#   make installcheck         pg_regress on a private temporary instance, then the TAP tests
#   make unittest             C unit tests of the pure modules (ASan + UBSan)
#   make fuzz-smoke           short libFuzzer runs of every fuzz target (needs clang)
#
# NOSQL_DEV=1 adds -Werror and turns assertions on in our code (scripts/test and CI use it).

EXTENSION = nosql
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" nosql.control)

MODULE_big = nosql
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
HEADERS_nosql = $(wildcard src/*.h)

DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard sql/$(EXTENSION)--*--*.sql)

# pg_regress: inputs in test/sql, expected output in expected/ (test/expected links to it).
# Every run uses a private temporary instance configured by test/nosql.conf.
REGRESS = $(shell cat test/schedule)
REGRESS_OPTS = --inputdir=test --temp-instance=$(CURDIR)/tmp_check_regress \
	--temp-config=$(CURDIR)/test/nosql.conf $(PLUGIN_CONF)

# Debian's security releases of PostgreSQL 15 load only the output plugins
# listed in output_plugin_libraries (a setting other builds lack, and would
# refuse): where the server has it, the test instance lists nosql too.
PLUGIN_CONF = $(if $(shell $(PG_CONFIG_BINDIR)/postgres --describe-config 2>/dev/null | \
	grep '^output_plugin_libraries'),--temp-config=$(CURDIR)/test/output_plugins.conf)
PG_CONFIG_BINDIR = $(shell $(PG_CONFIG) --bindir)

TAP_TESTS = 1
PROVE_TESTS = $(or $(TAP),test/t/*.pl)

PKG_CONFIG ?= pkg-config
DEPS = libbson-1.0 libpcre2-8 icu-uc icu-i18n libzstd
PG_CPPFLAGS = -I$(srcdir)/src $(shell $(PKG_CONFIG) --cflags $(DEPS))
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs $(DEPS))

# -Wextra minus the two warnings PostgreSQL's own conventions trigger everywhere
# (PG_FUNCTION_ARGS in functions without arguments, partial struct initialisers).
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
ifdef NOSQL_DEV
PG_CFLAGS += -Werror -DUSE_ASSERT_CHECKING
endif

EXTRA_CLEAN = tmp_check_regress test/unit/build test/fuzz/build

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# after the include, which defines PG_PROVE_FLAGS; PROVE_FLAGS stays free for the caller
PG_PROVE_FLAGS += -I $(CURDIR)/test/perl

# PGXS tracks no header dependencies: every object depends on every header
$(OBJS): $(HEADERS_nosql)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

.PHONY: unittest fuzz-smoke
unittest:
	$(MAKE) -C test/unit PG_CONFIG=$(PG_CONFIG) run

fuzz-smoke:
	$(MAKE) -C test/fuzz PG_CONFIG=$(PG_CONFIG) smoke
