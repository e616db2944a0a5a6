#!/usr/bin/env python3
"""
check_includes - the process boundary in the include graph (STYLE.md:
master -> common <- worker). Fails, naming each offending line, when
  - a file of common/ includes a header of worker/ or master/;
  - a file of master/ includes a header of worker/ other than procs.h;
  - the keeper, the status process or the agent check (worker/keeper.c,
    status.c, agent.c) includes a header of worker/ other than its own
    (procs.h, agent.h);
  - worker/procs.h includes a header of worker/.
Usage: check_includes.py SOURCE_ROOT
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def headers(top, d):
    return {f for f in os.listdir(os.path.join(top, d)) if f.endswith('.h')}


def local_includes(path):
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield n, m.group(1)


def main():
    top = sys.argv[1]
    worker = headers(top, 'worker')
    master = headers(top, 'master')
    # (files, headers they must not include, exceptions)
    rules = []
    for d in ('common', 'master'):
        for f in sorted(os.listdir(os.path.join(top, d))):
            if f.endswith(('.c', '.h')):
                if d == 'common':
                    rules.append((d + '/' + f, worker | master, set()))
                else:
                    rules.append((d + '/' + f, worker, {'procs.h'}))
    rules.append(('worker/keeper.c', worker, {'procs.h'}))
    rules.append(('worker/status.c', worker, {'procs.h', 'agent.h'}))
    rules.append(('worker/agent.c', worker, {'agent.h'}))
    rules.append(('worker/procs.h', worker - {'procs.h'}, set()))
    bad = 0
    for path, banned, allowed in rules:
        if not os.path.isfile(os.path.join(top, path)):
            print(f'{path}: missing', file=sys.stderr)
            bad += 1
            continue
        for n, h in local_includes(os.path.join(top, path)):
            if h in banned and h not in allowed:
                print(f'{path}:{n}: includes "{h}" across the process '
                      'boundary', file=sys.stderr)
                bad += 1
    if bad:
        print(f'{bad} include(s) break the rule', file=sys.stderr)
        return 1
    print(f'{len(rules)} files checked: the include rule holds')
    return 0


if __name__ == '__main__':
    sys.exit(main())
