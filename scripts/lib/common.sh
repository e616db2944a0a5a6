# Shared by scripts/run and scripts/test: build dependencies and the build.
# Sourced, not executed.

# Debian packages the build and the test suites need.
PREFORKD_BUILD_DEPS=(meson ninja-build pkg-config gcc libc6-dev
	libhttp-parser-dev libbsd-dev libseccomp-dev check python3)

# Installs what is missing (apt-get; sudo when not root).
ensure_deps() {
	local missing=() p
	for p in "${PREFORKD_BUILD_DEPS[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}" >&2
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
}

# Configures (once) and builds into $1 with the meson options that follow;
# prints meson's output only when something fails.
build_into() {
	local dir=$1 log
	shift
	log=$(mktemp)
	if { if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@"
	else
		meson configure "$dir" "$@"
	fi && meson compile -C "$dir"; } >"$log" 2>&1; then
		rm -f "$log"
		return 0
	fi
	cat "$log" >&2
	rm -f "$log"
	return 1
}
