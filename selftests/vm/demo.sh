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

# The largest region up to 256 MiB that fits twice (source and
# destination) with room to spare.
avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
size_mb=256
while [ $((size_mb * 1024 * 3)) -gt "$avail_kb" ] && [ "$size_mb" -gt 16 ]; do
	size_mb=$((size_mb / 2))
done

# Source and destination in two network namespaces joined by a veth pair
# with netem, when iproute2 and the modules are there; else loopback.
net="over loopback TCP"
set --
if [ -x /bin/tc ] && [ -x /bin/ip ] && grep -q '^veth ' /proc/modules &&
	grep -q '^sch_netem ' /proc/modules; then
	netem="delay 1ms rate 1gbit"
	net="between two network namespaces (veth, netem: $netem)"
	# plain TCP between the same namespaces first: the link's ceiling;
	# then one kernel TLS stream: the ceiling with the migration's crypto
	set -- --netem "$netem" --tcp-probe 64 --ktls-probe 32
fi

echo
echo "== live migration of a ${size_mb} MiB region $net"
echo "   pca-workload plays the VMM: 2 vCPUs write 2000 pages/s on the source,"
echo "   pause at switchover, run on the destination after the resume;"
echo "   it asks the module for the migrations over netlink, and a"
echo "   postcopy-agent daemon on each side takes them and moves the memory:"
echo "   at most 3 precopy rounds, then what is still dirty moves in postcopy."
echo "   Every connection runs mutual TLS 1.3 (X.509 test credentials made at"
echo "   build time, records in kernel TLS where the tls module is loaded)."
echo "   The last line splits the downtime into its phases (final_pass_ms,"
echo "   discard_ms, resume_ms, ...) and, between namespaces, sets the"
echo "   migration's goodput beside plain TCP and beside kernel TLS over the"
echo "   same link."
pca-workload --size "${size_mb}M" --tls-creds /etc/pca/tls/x509 --writers 2 --rate 2000 --dest-rate 2000 \
	--rounds 3 --downtime-ms 20 --agent /bin/postcopy-agent --relay \
	--progress "$@" 2>&1
