#!/usr/bin/env bash
# Unseen long-form test files, built like ../shared/data/longform/en-20min.opus
# (the same kind of clips, joined with digital silence, one Opus encode) but from
# other subsets, orders, seeds and gap lengths, so a long-form change can be tuned
# on some and judged on others. Each file comes with its segment list (.jsonl).
#
#   bench/longform-files.sh            # all files below into .tmp/longform/
#   bench/longform-files.sh tune-a     # just one
#   bench/longform-files.sh --one --clips F --seed N --gap-ms 300-1500 --minutes 12 --out X.opus [--twice]
#
# Which file is for tuning and which is held out is in its name (tune-*, held-*):
# report on held-* only. Requires bash, awk, jq, ffmpeg.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SHARED="$(cd "$HERE/../../shared/data" && pwd)"
OUTDIR="$HERE/../.tmp/longform"
SR=16000

# The 110 scorable English clips, as `<path under shared/data>\t<text as JSON>`.
all_clips() {
  for set in librispeech-test-other librispeech-test-clean ljspeech earnings22 librivox jfk fleurs-en; do
    jq -r --arg set "$set" '"speech/\($set)/\(.audio)\t\(.text | tojson)"' "$SHARED/speech/$set/manifest.jsonl"
  done
}

# Lines of stdin in an order from a Park-Miller PRNG seeded with $1 (Fisher-Yates).
shuffle() {
  awk -v seed="$1" '{ l[NR] = $0 } END {
    for (i = NR; i > 1; i--) { seed = (seed * 16807) % 2147483647; j = 1 + seed % i; t = l[i]; l[i] = l[j]; l[j] = t }
    for (i = 1; i <= NR; i++) print l[i] }'
}

# build.sh's timeline with a chosen seed and gap range (ms); --twice plays each clip twice in a row.
one() {
  local clips="" seed=42 gaps="300-1500" minutes=12 out="" twice=0
  while [ $# -gt 0 ]; do case "$1" in
    --clips) clips="$2"; shift 2;; --seed) seed="$2"; shift 2;; --gap-ms) gaps="$2"; shift 2;;
    --minutes) minutes="$2"; shift 2;; --out) out="$2"; shift 2;; --twice) twice=1; shift;;
    *) echo "unknown arg $1" >&2; exit 2;; esac; done
  local gmin="${gaps%-*}" gmax="${gaps#*-}" jsonl="${out%.*}.jsonl" tmp
  tmp="$(mktemp -d)"
  local i=0
  : > "$tmp/list"
  while IFS=$'\t' read -r path text; do
    [ -z "$path" ] && continue
    ffmpeg -nostdin -v error -i "$SHARED/$path" -ac 1 -ar $SR -f s16le "$tmp/$i.raw"
    local n=$(( $(stat -c %s "$tmp/$i.raw") / 2 ))
    printf '%s\t%s\t%s\t%s\n' "$i" "$n" "$path" "$text" >> "$tmp/list"
    if [ "$twice" = 1 ]; then printf '%s\t%s\t%s\t%s\n' "$i" "$n" "$path" "$text" >> "$tmp/list"; fi
    i=$((i+1))
  done < "$clips"
  awk -F'\t' -v target=$(( minutes * 60 * SR )) -v sr=$SR -v lead=$(( SR / 2 )) -v plan="$tmp/plan" -v jsonl="$jsonl" \
      -v seed="$seed" -v gmin="$gmin" -v gmax="$gmax" '
    { id[NR]=$1; ns[NR]=$2; p[NR]=$3; t[NR]=$4 }
    END {
      pos=lead; printf "S\t%d\n", lead > plan; k=0; printf "" > jsonl
      while (pos < target) {
        for (j=1; j<=NR && pos < target; j++) {
          if (k>0) { seed=(seed*16807)%2147483647; g=int((gmin+seed%(gmax-gmin+1))*sr/1000); printf "S\t%d\n", g > plan; pos+=g }
          printf "C\t%s\n", id[j] > plan
          printf "{\"start\": %.4f, \"end\": %.4f, \"text\": %s, \"source\": \"%s\"}\n", pos/sr, (pos+ns[j])/sr, t[j], p[j] > jsonl
          pos+=ns[j]; k++
        }
      }
      printf "S\t%d\n", lead > plan
    }' "$tmp/list"
  while IFS=$'\t' read -r kind v; do
    if [ "$kind" = S ]; then head -c $(( v * 2 )) /dev/zero; else cat "$tmp/$v.raw"; fi
  done < "$tmp/plan" | ffmpeg -nostdin -v error -y -f s16le -ar $SR -ac 1 -i - -c:a libopus -b:a 32k -vbr on -application audio -map_metadata -1 "$out"
  rm -rf "$tmp"
  echo "wrote $out ($(wc -l < "$jsonl") segments)"
}

if [ "${1:-}" = "--one" ]; then shift; one "$@"; exit 0; fi

mkdir -p "$OUTDIR"
all_clips > "$OUTDIR/all.tsv"
want="${1:-}"
build() { # name, then one()'s options; the clip list is made by the caller in $OUTDIR/<name>.tsv
  local name="$1"; shift
  if [ -n "$want" ] && [ "$want" != "$name" ]; then return; fi
  one --clips "$OUTDIR/$name.tsv" --out "$OUTDIR/$name.opus" "$@"
}
# Tuning: two shuffles of all clips, the shared file's gap range.
shuffle 7 < "$OUTDIR/all.tsv" > "$OUTDIR/tune-a.tsv";  build tune-a --seed 7 --minutes 12
shuffle 99 < "$OUTDIR/all.tsv" > "$OUTDIR/tune-b.tsv"; build tune-b --seed 99 --minutes 10
shuffle 57 < "$OUTDIR/all.tsv" > "$OUTDIR/tune-twice.tsv"; build tune-twice --seed 57 --minutes 8 --twice
# Held out: short gaps; long gaps; every clip played twice; LibriSpeech left out (the other sources first).
shuffle 11 < "$OUTDIR/all.tsv" > "$OUTDIR/held-short-gaps.tsv"; build held-short-gaps --seed 11 --gap-ms 100-500 --minutes 12
shuffle 23 < "$OUTDIR/all.tsv" > "$OUTDIR/held-long-gaps.tsv";  build held-long-gaps --seed 23 --gap-ms 1000-3000 --minutes 12
shuffle 31 < "$OUTDIR/all.tsv" > "$OUTDIR/held-twice.tsv";      build held-twice --seed 31 --minutes 10 --twice
{ grep -v librispeech "$OUTDIR/all.tsv" | shuffle 5; grep librispeech-test-other/3 "$OUTDIR/all.tsv" | shuffle 5; } > "$OUTDIR/held-mixed.tsv"
build held-mixed --seed 5 --gap-ms 200-2500 --minutes 10
