#!/bin/sh
# token: `zt token` on a real state directory: create, list, rotate and revoke; secrets are
# shown once and stored nowhere; bad names, directories and modes are refused clearly.
. "${top_srcdir:-.}/tests/integration/lib.sh"
t_init
unset ZT_STATE_DIR

S="$T_DIR/state"
# What `zt edge init` makes.
(umask 077 && mkdir "$S" "$S/tokens" "$S/tunnels") || exit 99

# Prints the value of the "Label:" line of $T_DIR/out.
field() {
	sed -n "s/^$1: *\\([^ ]*\\).*/\\1/p" "$T_DIR/out"
}

# Whether $2 is exactly $1 lower-case hex digits, then the regular expression $3.
is_hex() {
	printf '%s\n' "$2" | grep -Eqx "[0-9a-f]{$1}$3"
}

# SHA-256 of the bytes the hex string $1 stands for.
sha256_of_hex() {
	python3 -c '
import hashlib, sys
print(hashlib.sha256(bytes.fromhex(sys.argv[1])).hexdigest())' "$1"
}

# Fails unless none of the files under the state directory, nor file $2, contain $1.
nowhere() {
	! grep -r -q -F -e "$1" "$S" && { [ -z "$2" ] || ! grep -q -F -e "$1" "$2"; }
}

# --- help and usage errors ------------------------------------------------------------

t_run "$ZT" token --help
t_check "token --help exits 0" test "$T_RC" -eq 0
t_check "token --help prints usage on stdout" t_contains "$T_DIR/out" '^usage: zt token create'
t_run "$ZT" token create --help
t_check "token create --help exits 0" test "$T_RC" -eq 0
t_run "$ZT" token
t_check "token alone is a usage error (2)" test "$T_RC" -eq 2
t_check "token alone prints usage on stderr" t_contains "$T_DIR/err" '^usage:'
t_run "$ZT" token frobnicate --state-dir "$S"
t_check "an unknown subcommand exits 2" test "$T_RC" -eq 2
t_check "an unknown subcommand is named" t_contains "$T_DIR/err" "unknown command 'frobnicate'"
t_run "$ZT" token create --state-dir "$S"
t_check "create without NAME exits 2" test "$T_RC" -eq 2
t_check "create without NAME says so" t_contains "$T_DIR/err" 'NAME is missing'
t_run "$ZT" token list extra --state-dir "$S"
t_check "an extra argument exits 2" test "$T_RC" -eq 2
t_run "$ZT" token create x --json --state-dir "$S"
t_check "an option of another subcommand exits 2" test "$T_RC" -eq 2
t_check "... and says which" t_contains "$T_DIR/err" 'json does not apply to create'
t_run "$ZT" token create x --duration 3fortnights --state-dir "$S"
t_check "a bad --duration exits 2" test "$T_RC" -eq 2
t_check "a bad --duration is quoted" t_contains "$T_DIR/err" '"3fortnights"'
t_run "$ZT" token create x --duration 0 --state-dir "$S"
t_check "--duration 0 is a usage error (2)" test "$T_RC" -eq 2
t_check "--duration 0 says the range" t_contains "$T_DIR/err" 'between 1s and 876000h'

# --- bad names ------------------------------------------------------------------------

for bad in 'a/b' '.hidden' 'sp ace' 'x.tmp-1' \
    'a1234567890123456789012345678901234567890123456789012345678901234'; do
	t_run "$ZT" token create "$bad" --state-dir "$S"
	t_check "name '$bad' exits 2" test "$T_RC" -eq 2
	t_check "name '$bad' is explained" t_contains "$T_DIR/err" "name '"
done
t_check "bad names wrote nothing" test -z "$(ls -A "$S/tokens")"

# --- missing or unsafe state directories ----------------------------------------------

t_run "$ZT" token list --state-dir "$T_DIR/none"
t_check "a missing state directory exits 78 (EX_CONFIG)" test "$T_RC" -eq 78
t_check "a missing state directory is named" t_contains "$T_DIR/err" "$T_DIR/none' does not exist"
t_check "a missing state directory says what to do" t_contains "$T_DIR/err" 'zt edge init'
t_run env ZT_STATE_DIR="$T_DIR/none2" "$ZT" token list
t_check "ZT_STATE_DIR is the default directory" t_contains "$T_DIR/err" "$T_DIR/none2'"
t_run "$ZT" token create x --state-dir ""
t_check "an empty --state-dir exits 2" test "$T_RC" -eq 2
chmod 755 "$S"
t_run "$ZT" token list --state-dir "$S"
t_check "a state directory open to others exits 78 (EX_CONFIG)" test "$T_RC" -eq 78
t_check "... naming the fix" t_contains "$T_DIR/err" "chmod 700 $S"
chmod 700 "$S"

# --- create ---------------------------------------------------------------------------

t_run "$ZT" token create ci --state-dir "$S"
t_check "create exits 0" test "$T_RC" -eq 0
id=$(field 'Client ID')
secret=$(field 'Client Secret')
t_check "create prints a Client ID ($id)" is_hex 32 "$id" '\.access'
t_check "create prints a 64-hex secret" is_hex 64 "$secret"
t_check "create prints the expiry" t_contains "$T_DIR/out" '^Expires: *2[0-9]*-[0-9]*-[0-9]*T'
t_check "create says the secret is shown once" t_contains "$T_DIR/out" 'shown this once'
t_check "create names the sidecar command" \
    t_contains "$T_DIR/out" "zt access tcp .*--id $id --secret-file"
t_check "create logs nothing secret" nowhere "$secret" "$T_DIR/err"
t_check "the token file has mode 600" test "$(stat -c %a "$S/tokens/ci")" = 600
t_check "the state directory keeps mode 700" test "$(stat -c %a "$S")" = 700
t_check "the secret is stored nowhere under the state directory" nowhere "$secret"
hash=$(sed -n 's/^secret-sha256 = //p' "$S/tokens/ci")
t_check "the file holds a SHA-256" is_hex 64 "$hash"
if command -v python3 >/dev/null 2>&1; then
	t_check "the stored hash is SHA-256 of the secret's bytes" \
	    test "$hash" = "$(sha256_of_hex "$secret")"
fi
t_run "$ZT" token create ci --state-dir "$S"
t_check "an existing name exits 1" test "$T_RC" -eq 1
t_check "an existing name is explained" t_contains "$T_DIR/err" "named 'ci' already exists"
t_run "$ZT" token create soon --duration 48h --state-dir "$S"
soon_id=$(field 'Client ID')
soon_secret=$(field 'Client Secret')

# --- list -----------------------------------------------------------------------------

t_run env ZT_STATE_DIR="$S" "$ZT" token list
t_check "list exits 0" test "$T_RC" -eq 0
t_check "list has a header" t_contains "$T_DIR/out" '^NAME  *CLIENT ID  *CREATED  *EXPIRES  *STATUS'
t_check "list shows the token" t_contains "$T_DIR/out" "^ci  *$id  .* active\$"
t_check "list shows a token expiring within a week" \
    t_contains "$T_DIR/out" "^soon  *$soon_id .* expiring in "
t_check "list shows no secret" nowhere "$secret" "$T_DIR/out"
t_check "list shows no hash" sh -c "! grep -q -e '$hash' '$T_DIR/out'"
t_run "$ZT" token list --json --state-dir "$S"
t_check "list --json exits 0" test "$T_RC" -eq 0
t_check "list --json shows no secret or hash" sh -c "! grep -q -e '$secret' -e '$hash' '$T_DIR/out'"
if command -v python3 >/dev/null 2>&1; then
	t_check "list --json is one JSON array with the tokens" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and len(d) == 2, d
assert d[0]["name"] == "ci" and d[0]["client_id"] == sys.argv[2], d
assert d[0]["status"] == "active" and d[0]["revoked"] is None, d
assert d[1]["status"] == "expiring", d
' "$T_DIR/out" "$id"
fi

# --- rotate ---------------------------------------------------------------------------

t_run "$ZT" token rotate ci --grace 1h --state-dir "$S"
t_check "rotate exits 0" test "$T_RC" -eq 0
new=$(field 'Client Secret')
t_check "rotate prints a new 64-hex secret" is_hex 64 "$new"
t_check "the new secret differs" test "$new" != "$secret"
t_check "rotate keeps the Client ID" test "$(field 'Client ID')" = "$id"
t_check "rotate says when the old secret stops" \
    t_contains "$T_DIR/out" 'previous secret keeps working until .* (1h from now)'
t_check "the new secret is stored nowhere" nowhere "$new" "$T_DIR/err"
t_run "$ZT" token list --state-dir "$S"
t_check "list shows the rotation" t_contains "$T_DIR/out" "^ci .* rotating until 20"
t_run "$ZT" token rotate ci --grace 0 --state-dir "$S"
t_check "rotate --grace 0 says the old secret stopped" \
    t_contains "$T_DIR/out" 'stopped working at once'
newer=$(field 'Client Secret')
t_run "$ZT" token rotate ci --grace 721h --state-dir "$S"
t_check "a grace over 30 days is a usage error (2)" test "$T_RC" -eq 2
t_check "... and says the limit" t_contains "$T_DIR/err" 'between 0s and 720h'

# --- revoke ---------------------------------------------------------------------------

t_run "$ZT" token revoke ci --state-dir "$S"
t_check "revoke exits 0" test "$T_RC" -eq 0
t_check "revoke says what it revoked" \
    t_contains "$T_DIR/out" "Revoked service token 'ci' (Client ID $id)"
t_run "$ZT" token list --state-dir "$S"
t_check "list shows the token revoked" t_contains "$T_DIR/out" "^ci  *$id .* revoked 20"
t_run "$ZT" token revoke "$id" --state-dir "$S"
t_check "revoking again (by id) exits 0" test "$T_RC" -eq 0
t_check "... and says it already was" t_contains "$T_DIR/out" 'was already revoked at'
t_run "$ZT" token rotate ci --state-dir "$S"
t_check "a revoked token cannot be rotated" test "$T_RC" -eq 1
t_run "$ZT" token revoke "$soon_id" --state-dir "$S"
t_check "revoke by Client ID" t_contains "$T_DIR/out" "Revoked service token 'soon'"
t_run "$ZT" token revoke nope --state-dir "$S"
t_check "revoking an unknown name exits 1" test "$T_RC" -eq 1
t_check "... naming it" t_contains "$T_DIR/err" "no service token named 'nope'"
t_check "... and nothing secret" sh -c "! grep -q -e '$hash' -e '$id' -e '$soon_id' '$T_DIR/err'"

# --- unsafe files, concurrent writers -------------------------------------------------

chmod 640 "$S/tokens/ci"
t_run "$ZT" token list --state-dir "$S"
t_check "a token file open to the group exits 78 (EX_CONFIG)" test "$T_RC" -eq 78
t_check "... naming the file and the fix" t_contains "$T_DIR/err" "chmod 600 $S/tokens/ci"
chmod 600 "$S/tokens/ci"

i=0
while [ "$i" -lt 8 ]; do
	"$ZT" token create "p$i" --state-dir "$S" >"$T_DIR/p$i.out" 2>&1 &
	"$ZT" token create "q$i" --state-dir "$S" >"$T_DIR/q$i.out" 2>&1 &
	i=$((i + 1))
done
wait
t_run "$ZT" token list --json --state-dir "$S"
n=$(grep -c '"name": "[pq][0-9]"' "$T_DIR/out")
t_check "16 concurrent creates all landed ($n)" test "$n" -eq 16
t_check "no temporary files are left" test -z "$(find "$S" -name '*.tmp-*')"

for s in "$secret" "$new" "$newer" "$soon_secret"; do
	t_check "no secret is stored under the state directory" nowhere "$s"
done
t_done
