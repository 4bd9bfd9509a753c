#!/usr/bin/env python3
"""Turns the text of RFC 8448 (Example Handshake Traces for TLS 1.3) into C++ tables
of steps for tests/vectors/tls13_rfc8448_*.cpp.

Usage: tls13_rfc8448_extract.py rfc8448.txt SECTION > table.inc
Each step is {party, title, {{field, hex}, ...}} in trace order; values are the RFC's
bytes, unchanged. (The tables in the test files were produced this way and checked in.)
"""
import re
import sys

def steps_of(text, section):
    lines = []
    for line in text.splitlines():
        line = line.replace('\f', '')
        if re.match(r'^(Thomson|RFC 8448) .*\[Page \d+\]$', line) or re.match(r'^(Internet-Draft|RFC 8448) +TLS 1.3 Traces', line):
            continue
        lines.append(line)
    start = next(i for i, l in enumerate(lines) if re.match(rf'^{section}\.  ', l))
    end = next((i for i, l in enumerate(lines[start + 1:], start + 1) if re.match(r'^\d+\.  ', l)), len(lines))
    steps = []
    step = None
    field = None
    for line in lines[start:end]:
        m = re.match(r'^   \{(client|server)\}  (.*)$', line)
        if m:
            step = {'who': m.group(1), 'title': m.group(2).strip(), 'fields': [], 'open_title': True}
            steps.append(step)
            field = None
            continue
        if step is None:
            continue
        if not line.strip():
            continue  # blank lines (and removed page breaks) may split one value
        m = re.match(r'^      ([A-Za-z0-9 _]+?)(?: \((\d+) octets\))?:  (.*)$', line)
        if m:
            step['open_title'] = False
            value = m.group(3).strip()
            if value.startswith('0 (all zero octets)'):
                value = ''
            elif value == '(empty)':
                value = ''
            field = [m.group(1), value, int(m.group(2)) if m.group(2) else None]
            step['fields'].append(field)
            continue
        if field is not None and re.match(r'^ {9}[0-9a-f ]+$', line):
            field[1] += ' ' + line.strip()
            continue
        if step['open_title'] and line.startswith('      ') and not step['fields']:
            step['title'] += ' ' + line.strip()
            continue
    for s in steps:
        for f in s['fields']:
            f[1] = ''.join(f[1].split())
            if f[2] is not None and len(f[1]) != 2 * f[2]:
                raise SystemExit(f"length mismatch in {s['who']} {s['title']} {f[0]}: {len(f[1])//2} != {f[2]}")
    return steps

def main():
    text = open(sys.argv[1], encoding='utf-8', errors='replace').read()
    for s in steps_of(text, sys.argv[2]):
        title = s['title'].replace('\\', '\\\\').replace('"', '\\"')
        print(f'    {{"{s["who"]}", "{title}", {{')
        for name, value, _ in s['fields']:
            chunks = [value[i:i + 96] for i in range(0, len(value), 96)] or ['']
            print(f'        {{"{name}", ' + '\n         '.join(f'"{c}"' for c in chunks) + '},')
        print('    }},')

if __name__ == '__main__':
    main()
