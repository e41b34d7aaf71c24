# Sourced by deploy/quickstart.sh and tests/run.sh: installs the Debian
# packages recoup needs, when they are missing. Works as root (apt-get)
# and as a normal user (sudo, when it is there and allowed).

RECOUP_BUILD_PACKAGES="gcc make cmake pkg-config protobuf-c-compiler
    libprotobuf-c-dev libzmq3-dev libsodium-dev libpq-dev postgresql
    libncurses-dev libcurl4-openssl-dev"
RECOUP_TEST_PACKAGES="libcmocka-dev util-linux tmux"

# recoup_install_deps [extra packages...]
recoup_install_deps () {
    local wanted="$RECOUP_BUILD_PACKAGES $*" missing="" pkg
    for pkg in $wanted; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $pkg"
        fi
    done
    [ -z "$missing" ] && return 0
    echo "recoup: installing Debian packages:$missing" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        else
            echo "recoup: these packages are missing:$missing" >&2
            echo "recoup: install them as root (apt-get install$missing) and run again" >&2
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
