# Makefile for the relay: one binary per process, all built into bin/.
#
#   make              build everything with -Wall -Wextra -Werror, hardened
#                     (stack protector, FORTIFY 3, PIE, full RELRO)
#   make check        unit tests and the regress suite (as root)
#   make asan         the same tests on an AddressSanitizer/UBSan build
#   make bench        throughput and memory beside Postfix and OpenSMTPD,
#                     then access-map decisions per second (bench-policy),
#                     then RCPT decisions per second with a virtusertable
#                     and aliases, beside the access-only one (bench-local),
#                     then authenticated submissions/s beside Postfix
#                     (bench-auth: STARTTLS + AUTH PLAIN, about 1 minute),
#                     then local deliveries per second beside Postfix's
#                     local(8): mbox, Maildir, LMTP (bench-deliver)
#   make bench-queue  a queue of 100 000 deferred messages to 10 000
#                     domains beside Postfix: reload, RSS, show queue,
#                     flush (BENCH_QUEUE_ARGS="--messages 10000 --domains
#                     1000" for a short run; under flock /tmp/bench.lock)
#   make bench-extra  issue 14's scenarios the shared harness lacks, ours
#                     beside Postfix (bench/extra.py; also run by make
#                     bench unless BENCH_EXTRA=0); EXTRA_ARGS passes
#                     options (--quick, --only ID,ID)
#   make bench-proxy  relay and churn directly and behind HAProxy (PROXY v2)
#   make bench-milter relay-1k-s10 with OpenDKIM signing, ours beside
#                     Postfix (tools/bench_milter.sh; under flock
#                     /tmp/bench.lock)
#   make fuzz         libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make soak         the long load and fault runs
#   make install      PREFIX=/usr/local DESTDIR=
#   make install-sendmail  /usr/sbin/sendmail, mailq, newaliases -> ours
#                     (FORCE=1 over another package's, with dpkg-divert)
#   make lint         mandoc -Tlint on the man pages

CC	?= cc
YACC	?= byacc
PREFIX	?= /usr/local
SBINDIR	 = $(PREFIX)/sbin
LIBEXECDIR = $(PREFIX)/libexec/smtpd
MANDIR	 = $(PREFIX)/share/man
SYSCONFDIR ?= /etc/mail

OPT	?= -O2 -g
SAN	?=

# Hardening, on by default (regress/build/test_hardening.py checks the
# binaries): canaries, stack clash probes, CET branch protection (as
# Debian's own build flags), fortified libc calls, PIE, full RELRO with every
# symbol bound at start.  gcc 12 and clang 14 with glibc 2.36 both do
# _FORTIFY_SOURCE=3.  FORTIFY needs optimization (without it glibc
# warns, and -Werror stops), and it is left out of sanitizer builds,
# whose interceptors do not see the _chk variants.  HARDEN= HARDEN_LD=
# FORTIFY= turn it off.
HARDEN	?= -fstack-protector-strong -fstack-clash-protection -fcf-protection \
	   -fPIE
HARDEN_LD ?= -pie -Wl,-z,relro,-z,now
FORTIFY	?= $(if $(SAN),,$(if $(filter -O1 -O2 -O3 -Os -Og -Ofast,$(OPT)),\
	   -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3))

CFLAGS	+= -std=c11 -D_GNU_SOURCE $(OPT) $(SAN) $(HARDEN) $(FORTIFY) \
	   -Wall -Wextra -Werror \
	   -Wno-unused-parameter -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Icommon -isystem /usr/include/bsd \
	   -DLIBBSD_OVERLAY -DLIBEXECDIR=\"$(LIBEXECDIR)\" \
	   -DSYSCONFDIR=\"$(SYSCONFDIR)\"
LDFLAGS	+= $(SAN) $(HARDEN_LD) -Wl,--as-needed
LIBS_BASE = -levent -lbsd -lseccomp -lidn2
# libpq: the PostgreSQL policy store (policyd and its library)
PQ_CFLAGS != pkg-config --cflags libpq
PQ_LIBS != pkg-config --libs libpq

COMMON_SRCS = $(filter-out common/parse.c,$(wildcard common/*.c)) common/parse.c
COMMON_OBJS = $(COMMON_SRCS:.c=.o)

PARENT_SRCS  = smtpd/parent.c $(wildcard smtpd/parent_*.c)
# one folder per executable; policyd/lib/ is the policy code that
# smtpd-policyd and smtpctl (makemap, explain) both link
SMTP_SRCS    = $(wildcard smtpd/smtp/*.c)
MTA_SRCS     = $(wildcard smtpd/mta/*.c)
LOCAL_SRCS   = $(wildcard smtpd/local/*.c)
CTL_SRCS     = $(wildcard smtpd/ctl/*.c)
SENDMAIL_SRCS = $(wildcard smtpd/sendmail/*.c)
QUEUE_SRCS   = $(wildcard queue/*.c)
POLICY_LIB_SRCS = $(wildcard policyd/lib/*.c)
POLICY_SRCS  = $(wildcard policyd/*.c) $(POLICY_LIB_SRCS)
AUTH_SRCS    = $(wildcard policyd/auth/*.c)
TLS_SRCS     = $(wildcard tlsproxy/*.c)

# each process's modules without its main, for the unit tests
SMTP_LIB_OBJS   = $(filter-out smtpd/smtp/smtp.o,$(SMTP_SRCS:.c=.o))
MTA_LIB_OBJS    = $(filter-out smtpd/mta/mta.o,$(MTA_SRCS:.c=.o))
LOCAL_LIB_OBJS  = $(filter-out smtpd/local/local.o,$(LOCAL_SRCS:.c=.o))
QUEUE_LIB_OBJS  = $(filter-out queue/queue.o,$(QUEUE_SRCS:.c=.o))
POLICY_LIB_OBJS = $(POLICY_LIB_SRCS:.c=.o)
TLS_LIB_OBJS    = $(filter-out tlsproxy/tlsproxy.o,$(TLS_SRCS:.c=.o))

BINS = bin/smtpd bin/smtpd-smtp bin/smtpd-mta bin/smtpd-queue \
       bin/smtpd-policyd bin/smtpd-tlsproxy bin/smtpd-auth bin/smtpd-local \
       bin/smtpctl bin/sendmail

UNIT_SRCS = $(wildcard regress/unit/test_*.c)
UNIT_BINS = $(patsubst regress/unit/%.c,bin/unit/%,$(UNIT_SRCS))

MANS = $(wildcard man/*.[0-9])

all: $(BINS) bin/newaliases

common/parse.c: common/parse.y
	$(YACC) -o $@ $<

# generated by yacc: its own code is not held to our warning set
common/parse.o: common/parse.c
	$(CC) $(CFLAGS) -Wno-unused-but-set-variable -Wno-missing-prototypes \
	    -Wno-shadow -Wno-sign-compare -c -o $@ $<

# an archive: a binary takes only the members it uses, so dns.o and its
# -lunbound stay in smtpd-smtp, smtpd-mta and the unit tests
common/libcommon.a: $(COMMON_OBJS)
	$(AR) rcs $@ $^

%.o: %.c common/*.h $(wildcard */*.h */*/*.h)
	$(CC) $(CFLAGS) -c -o $@ $<

bin:
	mkdir -p bin

bin/unit:
	mkdir -p bin/unit

# libcrypto: the parent checks that each pki key matches its certificate
bin/smtpd: $(PARENT_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lcrypto

bin/smtpd-smtp: $(SMTP_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lunbound

bin/smtpd-mta: $(MTA_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lunbound -lcrypto

# the local delivery process: no resolver, no TLS, no database
bin/smtpd-local: $(LOCAL_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE)

bin/smtpd-queue: $(QUEUE_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LIBS_BASE)

bin/smtpd-policyd: $(POLICY_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lsqlite3 $(PQ_LIBS)

bin/smtpd-tlsproxy: $(TLS_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -ltls -lssl -lcrypto

# the only binary that links Cyrus SASL
bin/smtpd-auth: $(AUTH_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lsasl2

smtpd/smtp/libsmtp.a: $(SMTP_LIB_OBJS)
	$(AR) rcs $@ $^
smtpd/mta/libmta.a: $(MTA_LIB_OBJS)
	$(AR) rcs $@ $^
smtpd/local/liblocal.a: $(LOCAL_LIB_OBJS)
	$(AR) rcs $@ $^
queue/libqueue.a: $(QUEUE_LIB_OBJS)
	$(AR) rcs $@ $^
policyd/lib/libpolicy.a: $(POLICY_LIB_OBJS)
	$(AR) rcs $@ $^
tlsproxy/libtlsproxy.a: $(TLS_LIB_OBJS)
	$(AR) rcs $@ $^

PROC_LIBS = smtpd/smtp/libsmtp.a smtpd/mta/libmta.a queue/libqueue.a \
	    policyd/lib/libpolicy.a smtpd/local/liblocal.a

# the policy library: its header for policyd and smtpctl
$(patsubst %.c,%.o,$(wildcard policyd/*.c)) $(CTL_SRCS:.c=.o): CFLAGS += -Ipolicyd/lib
$(POLICY_SRCS:.c=.o): CFLAGS += $(PQ_CFLAGS)

bin/smtpctl: $(CTL_SRCS:.c=.o) policyd/lib/libpolicy.a common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lsqlite3 $(PQ_LIBS) -lunbound -lcrypto

# the sendmail command (and mailq, newaliases by name): an unprivileged
# program of the user who runs it
bin/sendmail: $(SENDMAIL_SRCS:.c=.o) common/libcommon.a | bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE)

# smtpctl run by this name is newaliases(8)
bin/newaliases: bin/smtpctl
	ln -sf smtpctl $@

bin/unit/%: regress/unit/%.c $(PROC_LIBS) common/libcommon.a | bin/unit
	$(CC) $(CFLAGS) -Iregress/unit -Ismtpd/smtp -Ismtpd/mta -Iqueue \
	    -Ipolicyd/lib -Ismtpd/local $(LDFLAGS) -pthread -o $@ $^ $(LIBS_BASE) -lunbound \
	    -lcrypto -lsqlite3 $(PQ_LIBS)

# tlsproxy's modules need libtls and libcrypto
bin/unit/test_tls_%: regress/unit/test_tls_%.c tlsproxy/libtlsproxy.a \
    common/libcommon.a | bin/unit
	$(CC) $(CFLAGS) -Iregress/unit -Itlsproxy $(LDFLAGS) -o $@ $^ \
	    $(LIBS_BASE) -ltls -lssl -lcrypto

# smtpctl's printing of the daemon's answers
bin/unit/test_smtpctl_%: regress/unit/test_smtpctl_%.c \
    smtpd/ctl/smtpctl_text.o common/libcommon.a | bin/unit
	$(CC) $(CFLAGS) -Iregress/unit -Ismtpd/ctl $(LDFLAGS) -o $@ $^ \
	    $(LIBS_BASE)

units: $(UNIT_BINS)

# The sandbox test build: each child again, with a sandbox whose SIGUSR2
# handler makes a call no filter allows (regress/privsep/test_seccomp.py
# runs the daemon with -x bin/probe).  sandbox_probe.o comes before the
# archive, so the archive's sandbox.o is not linked.
PROBE_BINS = bin/probe/smtpd-smtp bin/probe/smtpd-mta bin/probe/smtpd-queue \
	     bin/probe/smtpd-policyd bin/probe/smtpd-tlsproxy bin/probe/smtpd-auth \
	     bin/probe/smtpd-local

common/sandbox_probe.o: common/sandbox.c common/sandbox.h
	$(CC) $(CFLAGS) -DSANDBOX_PROBE -c -o $@ common/sandbox.c

bin/probe:
	mkdir -p bin/probe

bin/probe/smtpd-smtp: $(SMTP_SRCS:.c=.o) common/sandbox_probe.o \
    common/libcommon.a | bin/probe
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lunbound
bin/probe/smtpd-mta: $(MTA_SRCS:.c=.o) common/sandbox_probe.o \
    common/libcommon.a | bin/probe
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lunbound -lcrypto
bin/probe/smtpd-queue: $(QUEUE_SRCS:.c=.o) common/sandbox_probe.o \
    common/libcommon.a | bin/probe
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LIBS_BASE)
bin/probe/smtpd-policyd: $(POLICY_SRCS:.c=.o) common/sandbox_probe.o \
    common/libcommon.a | bin/probe
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lsqlite3 $(PQ_LIBS)
bin/probe/smtpd-tlsproxy: $(TLS_SRCS:.c=.o) common/sandbox_probe.o \
    common/libcommon.a | bin/probe
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -ltls -lssl -lcrypto
bin/probe/smtpd-auth: $(AUTH_SRCS:.c=.o) common/sandbox_probe.o \
    common/libcommon.a | bin/probe
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE) -lsasl2

bin/probe/smtpd-local: $(LOCAL_SRCS:.c=.o) common/sandbox_probe.o \
    common/libcommon.a | bin/probe
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_BASE)

probe: $(PROBE_BINS)

deps:
	@sh tools/deps.sh

check: all units probe
	@sh tools/deps.sh
	@python3 regress/run.py $(CHECK_ARGS)

# The confined children cannot run LeakSanitizer (no /proc in the chroot,
# not traceable), so leaks are checked on the unit tests, and the regress
# suite runs the daemon with ASan/UBSan errors fatal but leak checks off.
asan:
	$(MAKE) clean
	$(MAKE) SAN="-fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer" OPT="-O1 -g" all units probe
	@sh tools/deps.sh
	@for t in $(UNIT_BINS); do ./$$t >/dev/null || \
	    { echo "FAIL $$t under ASan/LSan"; exit 1; }; done
	@ASAN_OPTIONS=detect_leaks=0 python3 regress/run.py $(CHECK_ARGS)

# the C STARTTLS churn client of bench/extra.py (OpenSSL, threads)
bin/tls_churn: bench/tls_churn.c | bin
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o $@ \
	    bench/tls_churn.c -lssl -lcrypto -lpthread

bench: all bin/tls_churn
	@sh tools/bench.sh
	@sh tools/bench_policy.sh
	@sh tools/bench_local.sh
	@bash tools/bench_auth.sh
	@bash tools/bench_deliver.sh

bench-policy: all
	@sh tools/bench_policy.sh

bench-local: all
	@sh tools/bench_local.sh

bench-auth: all
	@bash tools/bench_auth.sh

bench-deliver: all
	@bash tools/bench_deliver.sh

.PHONY: bench-queue
bench-queue: all
	@flock /tmp/bench.lock python3 bench/bigqueue.py $(BENCH_QUEUE_ARGS)

bench-extra: all bin/tls_churn
	@python3 bench/extra.py $(EXTRA_ARGS)

bench-proxy: all
	@sh tools/bench_proxy.sh

bench-milter: all
	@flock /tmp/bench.lock sh tools/bench_milter.sh

bench-disk: all
	@flock /tmp/bench.lock sh tools/bench_disk.sh

fuzz:
	@sh tools/fuzz.sh

flood: all
	@python3 tools/flood.py $(FLOOD_ARGS)

soak: all
	@python3 regress/run.py --soak

lint:
	mandoc -Tlint -Wwarning $(MANS)

install: all
	sh tools/install.sh "$(DESTDIR)" "$(PREFIX)" "$(SYSCONFDIR)"

# /usr/sbin/sendmail, /usr/bin/mailq and /usr/bin/newaliases made links to
# bin/sendmail installed in $(PREFIX)/sbin; refuses paths of another
# package (dpkg -S) unless FORCE=1 (then dpkg-divert); never run by tests
install-sendmail: all
	sh tools/install_sendmail.sh "$(DESTDIR)" "$(PREFIX)" "$(FORCE)"

clean:
	rm -rf bin common/parse.c */*.o */*.a */*/*.o */*/*.a

.PHONY: all units probe deps check asan bench bench-policy bench-local bench-auth bench-deliver bench-extra bench-proxy bench-milter bench-disk fuzz flood soak lint install install-sendmail clean
