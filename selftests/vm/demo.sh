#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of `make demo`, run by /init once the module is loaded.
# Everything printed here reaches the host's terminal; a non-zero exit
# fails the demo.
set -e

echo "== postcopy_assist loaded: $(grep '^postcopy_assist ' /proc/modules)"
echo "== API handshake: postcopy-agent api"
postcopy-agent api
