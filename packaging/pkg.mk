# SPDX-License-Identifier: GPL-2.0
#
# Packaging, included by the top Makefile: man pages, libpca as a shared
# library, make install, make deb.  Nothing here needs the guest kernels.
#
#   make man        man pages from Documentation/man/*.rst (rst2man)
#   make install    PREFIX (/usr/local), DESTDIR, and SBINDIR, LIBDIR,
#                   INCLUDEDIR, MANDIR, UNITDIR, SRCDIR below them
#   make deb        Debian packages (debhelper, dh-dkms) into build/deb,
#                   checked by lintian (its errors fail); DEB_MAINTAINER
#                   names who builds them
#   make pkg-check  the host-side checks of all this (scripts/pkg-check.sh)
#   make check-dkms DKMS builds the packaged module source for KERNELS, the
#                   guests run TESTS (api_test fault_test libpca_test) on
#                   it, with the agent and examples/ linked against the
#                   installed libpca through pkg-config

VERSION := $(shell cat $(CURDIR)/VERSION)
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
SRCDIR ?= $(PREFIX)/src
RST2MAN ?= /usr/bin/rst2man
DEB_MAINTAINER ?= postcopy_assist developers <postcopy-assist@example.org>

PKGB := $(BUILD)/pkg
MANS := $(patsubst Documentation/man/%.rst,$(PKGB)/man/%,$(wildcard Documentation/man/*.rst))
LIBPCA_SONAME := libpca.so.0
LIBPCA_SO := $(PKGB)/lib/libpca.so.$(VERSION)
LIBPCA_OBJS := $(patsubst agent/lib/%.c,$(PKGB)/lib/%.o,$(wildcard agent/lib/*.c))
PKG_CFLAGS := -O2 -g -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
	-Iagent -Iinclude -Iinclude/uapi -I/usr/include/libnl3 \
	$(CPPFLAGS) $(CFLAGS)

.PHONY: man pkg-build install deb pkg-check check-dkms

man: $(MANS)

$(PKGB)/man/%: Documentation/man/%.rst
	@mkdir -p $(@D)
	$(RST2MAN) --halt=warning $< $@.tmp && mv $@.tmp $@

# libpca.so: only what agent/lib/pca.h declares is visible (the header
# says so with a pragma), and packaging/libpca.map is its ABI
$(PKGB)/lib/%.o: agent/lib/%.c agent/lib/pca.h
	@mkdir -p $(@D)
	$(CC) $(PKG_CFLAGS) -c -o $@ $<

$(LIBPCA_SO): $(LIBPCA_OBJS) packaging/libpca.map
	$(CC) -shared -Wl,-soname,$(LIBPCA_SONAME) \
		-Wl,--version-script=packaging/libpca.map $(LDFLAGS) \
		-o $@ $(LIBPCA_OBJS) -lnl-genl-3 -lnl-3

$(PKGB)/libpca.pc: packaging/libpca.pc.in VERSION
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' $< >$@

$(PKGB)/postcopy-agent.service: packaging/postcopy-agent.service
	@mkdir -p $(@D)
	sed 's|/usr/sbin/postcopy-agent|$(SBINDIR)/postcopy-agent|' $< >$@

pkg-build: man $(LIBPCA_SO) $(PKGB)/libpca.pc $(PKGB)/postcopy-agent.service
	+$(MAKE) -C agent OUT=$(PKGB)/agent

install: pkg-build
	install -D -m 0755 $(PKGB)/agent/postcopy-agent $(DESTDIR)$(SBINDIR)/postcopy-agent
	install -D -m 0644 $(LIBPCA_SO) $(DESTDIR)$(LIBDIR)/libpca.so.$(VERSION)
	ln -sf libpca.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBPCA_SONAME)
	ln -sf $(LIBPCA_SONAME) $(DESTDIR)$(LIBDIR)/libpca.so
	install -D -m 0644 $(PKGB)/libpca.pc $(DESTDIR)$(LIBDIR)/pkgconfig/libpca.pc
	install -D -m 0644 agent/lib/pca.h $(DESTDIR)$(INCLUDEDIR)/postcopy_assist/pca.h
	install -D -m 0644 -t $(DESTDIR)$(INCLUDEDIR)/postcopy_assist/linux \
		include/uapi/linux/postcopy_assist.h \
		include/uapi/linux/postcopy_assist_netlink.h
	for m in $(MANS); do \
		s=$${m##*.}; install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/$${m##*/} || exit; \
	done
	install -D -m 0644 $(PKGB)/postcopy-agent.service $(DESTDIR)$(UNITDIR)/postcopy-agent.service
	# the module's source, as DKMS takes it (dkms add/build/install)
	d=$(DESTDIR)$(SRCDIR)/postcopy-assist-$(VERSION); \
	mkdir -p $$d/kmod $$d/include && \
	cp -R kmod/. $$d/kmod/ && cp -R include/. $$d/include/ && \
	sed 's/#MODULE_VERSION#/$(VERSION)/' packaging/dkms.conf >$$d/dkms.conf

# From the files git knows (a clean clone's), never the build tree.
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	git ls-files -z | xargs -0 cp --parents -t $(BUILD)/deb/src
	cp -R packaging/debian $(BUILD)/deb/src/debian
	sed -i 's|@MAINTAINER@|$(DEB_MAINTAINER)|' $(BUILD)/deb/src/debian/control
	cp packaging/dkms.conf $(BUILD)/deb/src/debian/postcopy-assist-dkms.dkms
	printf '%s\n\n  * %s\n\n -- %s  %s\n' \
		"postcopy-assist ($(VERSION)-1) unstable; urgency=medium" \
		"Release $(VERSION) (version from the VERSION file)." \
		"$(DEB_MAINTAINER)" \
		"$$(date -R -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))" \
		>$(BUILD)/deb/src/debian/changelog
	cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b -rfakeroot >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; exit 1; }
	cd $(BUILD)/deb && lintian --fail-on error --suppress-tags \
		initial-upload-closes-no-bugs *.changes
	@ls $(BUILD)/deb/*.deb

pkg-check:
	@BUILD='$(BUILD)' $(CURDIR)/scripts/pkg-check.sh

check-dkms: deps userspace
	+@$(HARNESS_ENV) $(CURDIR)/scripts/dkms-lane.sh
