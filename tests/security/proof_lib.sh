# Checks of the secrets proofs (sourced after tests/integration/lib.sh); FORMS names the file
# of forms that must not appear (tests/security/forms.py).

# no_canary DESC FILE...: no form of either canary in any of the files
no_canary() {
	desc=$1
	shift
	for file in "$@"; do
		if grep -qF -f "$FORMS" "$file"; then
			bad "$desc: canary in $file: $(grep -oF -f "$FORMS" "$file" | head -n 3 | tr '\n' ' ')"
		else
			ok
		fi
	done
}

# no_canary_dir DESC DIR: the same for every file under DIR
no_canary_dir() {
	found=$(grep -rlF -f "$FORMS" "$2" || true)
	if [ -n "$found" ]; then
		bad "$1: canary in $(echo "$found" | tr '\n' ' ')"
	else
		ok
	fi
}
