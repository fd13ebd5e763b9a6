#!/bin/sh
# tools/fuzz.sh: "make fuzz".  Builds each libFuzzer target in
# regress/fuzz/ with clang, ASan and UBSan, and runs it for FUZZ_SECONDS
# (default 60), one after the other.  FUZZ_TARGETS="fuzz_a fuzz_b" runs
# only those.  Each target grows its corpus in regress/fuzz/corpus/NAME
# (not committed) from the seeds in regress/fuzz/seeds/NAME (committed).
# Bounded in time; stops by itself; the first target that fails stops
# the run with its report.
set -eu
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
only=${FUZZ_TARGETS:-}
out=bin/fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CF="-std=c11 -D_GNU_SOURCE -g -O1 -Icommon -Ismtpd/smtp -Ismtpd/mta
    -Iqueue -Ipolicyd/lib -Itlsproxy -isystem /usr/include/bsd
    -DLIBBSD_OVERLAY"

# name; the sources it needs beyond common/; the libraries beyond
# libevent and libbsd
targets() {
	echo "fuzz_config;;"
	echo "fuzz_imsg;;"
	echo "fuzz_smtp_command;smtpd/smtp/smtp_command.c;"
	echo "fuzz_smtp_data;smtpd/smtp/smtp_data.c;"
	echo "fuzz_mailaddr;;"
	echo "fuzz_base64;;"
	echo "fuzz_tls_hello;tlsproxy/tls_hello.c tlsproxy/tls_text.c;-lcrypto"
	echo "fuzz_mta_reply;smtpd/mta/mta_reply.c;"
	echo "fuzz_dns;smtpd/smtp/smtp_dns.c smtpd/mta/mta_dns.c;-lunbound"
	echo "fuzz_policy_map;$(echo policyd/lib/policy_*.c);-lsqlite3"
	echo "fuzz_envelope;queue/queue_envelope.c;"
	echo "fuzz_hdraddr;;"
	echo "fuzz_mtasts;;"
	echo "fuzz_proxy_tls;smtpd/smtp/smtp_proxy_tls.c;"
	echo "fuzz_mta_sts;smtpd/mta/mta_sts_parse.c;"
}

# common/ once, as an archive: a target takes only the members it uses
common_lib() {
	mkdir -p "$out/obj"
	make -s common/parse.c
	for src in common/*.c; do
		# shellcheck disable=SC2086
		clang $CF -fsanitize=fuzzer-no-link $SAN -w -c \
		    -o "$out/obj/$(basename "$src" .c).o" "$src"
	done
	rm -f "$out/libcommon.a"
	ar rcs "$out/libcommon.a" "$out"/obj/*.o
}

run_one() {
	name=$1 extra=$2 libs=$3
	# shellcheck disable=SC2086
	clang $CF -fsanitize=fuzzer $SAN -o "$out/$name" "regress/fuzz/$name.c" \
	    $extra "$out/libcommon.a" -levent -lbsd -lseccomp -lidn2 $libs
	mkdir -p "regress/fuzz/corpus/$name"
	seeds=
	[ -d "regress/fuzz/seeds/$name" ] && seeds="regress/fuzz/seeds/$name"
	echo "fuzz: $name for ${secs}s"
	# shellcheck disable=SC2086
	if ! "$out/$name" -max_total_time="$secs" -max_len=4096 \
	    -print_final_stats=1 \
	    -artifact_prefix="$out/$name-" "regress/fuzz/corpus/$name" $seeds \
	    >"$out/$name.log" 2>&1; then
		echo "fuzz: $name FAILED, see $out/$name.log"
		tail -40 "$out/$name.log"
		return 1
	fi
	grep -E "^#[0-9]+[[:space:]]+DONE" "$out/$name.log" | tail -1
}

mkdir -p "$out"
common_lib
targets | while IFS=';' read -r name extra libs; do
	case " $only " in
	"  ") ;;
	*" $name "*) ;;
	*) continue ;;
	esac
	run_one "$name" "$extra" "$libs" || exit 1
done
