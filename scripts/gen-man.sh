#!/bin/sh
# Generates man pages from the built `tapsec` command's --help texts, so the pages
# always describe the options that the binary actually accepts:
#   tapsec.1            the commands, the shared option vocabulary, exit status
#   tapsec-PROTOCOL.1   `tapsec connect|listen PROTOCOL` and that protocol's options
# usage: gen-man.sh PATH/TO/tapsec OUTPUT_DIR VERSION
set -eu
tool=$1 out=$2 version=$3
mkdir -p "$out"
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# Help text as a literal roff block: backslashes escaped, lines that roff would take
# as requests ('.' or "'" first) protected with \&.
literal() {
    printf '.nf\n'
    sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
    printf '.fi\n'
}

protocols=$("$tool" protocols | awk '{print $1}')
{
    printf '.TH TAPSEC 1 "%s" "tapsec %s" "User Commands"\n' "$date" "$version"
    printf '.SH NAME\ntapsec \\- drive the transport-security protocols of the tapsec library from the shell\n'
    printf '.SH SYNOPSIS\n.B tapsec\n.I command\n[\\fIarguments\\fR]\n'
    printf '.SH DESCRIPTION\n'
    "$tool" --help | literal
    printf '.SH PROTOCOLS\n'
    "$tool" protocols | literal
    printf 'Each protocol has its own page:\n'
    for p in $protocols; do printf '.BR tapsec-%s (1)\n' "$p"; done
    printf '.SH VERSION\n'
    "$tool" --version | literal
} > "$out/tapsec.1"

for p in $protocols; do
    upper=$(printf '%s' "$p" | tr 'a-z-' 'A-Z_')
    {
        printf '.TH TAPSEC-%s 1 "%s" "tapsec %s" "User Commands"\n' "$upper" "$date" "$version"
        printf '.SH NAME\ntapsec-%s \\- tapsec connect|listen %s\n' "$p" "$p"
        printf '.SH SYNOPSIS\n.B tapsec connect %s\n.I HOST:PORT\n[\\fIoptions\\fR]\n.br\n' "$p"
        printf '.B tapsec listen %s\n.RI [ ADDR: ] PORT\n[\\fIoptions\\fR]\n' "$p"
        printf '.SH OPTIONS\n'
        "$tool" connect "$p" --help | literal
        printf '.SH EXIT STATUS\n0 on a clean close, 1 on a runtime failure, 2 on a command-line mistake.\n'
        printf '.SH SEE ALSO\n.BR tapsec (1)\n'
    } > "$out/tapsec-$p.1"
done
