#!/bin/sh
# tools/fuzz.sh: "make fuzz".  Builds each libFuzzer target in
# regress/fuzz/ with clang, ASan and UBSan, and runs it for FUZZ_SECONDS
# (default 60) from its corpus directory.  Bounded in time; stops by itself.
set -eu
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
out=bin/fuzz
mkdir -p "$out"
CF="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
    -Icommon -Ismtpd -Iqueue -Ipolicyd -isystem /usr/include/bsd
    -DLIBBSD_OVERLAY"
common="common/imsg.c common/log.c common/util.c common/config.c
    common/parse.c common/mailaddr.c"

# target name, extra sources
targets() {
	echo "fuzz_config"
	echo "fuzz_imsg"
	[ -f regress/fuzz/fuzz_envelope.c ] && echo "fuzz_envelope queue/queue_envelope.c"
	[ -f regress/fuzz/fuzz_smtp_command.c ] && echo "fuzz_smtp_command smtpd/smtp_command.c"
	true
}

make -s common/parse.c
fail=0
targets | while read -r name extra; do
	# shellcheck disable=SC2086
	clang $CF -o "$out/$name" "regress/fuzz/$name.c" $common $extra \
	    -levent -lbsd
	mkdir -p "regress/fuzz/corpus/$name"
	echo "fuzz: $name for ${secs}s"
	"$out/$name" -max_total_time="$secs" -max_len=4096 \
	    "regress/fuzz/corpus/$name" >"$out/$name.log" 2>&1 || {
		echo "fuzz: $name FAILED, see $out/$name.log"; tail -30 "$out/$name.log"; exit 1; }
	grep -E "^(Done|#[0-9]+ +DONE)" "$out/$name.log" | tail -1
done
