/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multiboot (version 1) entry of the qemu_test guest payload: QEMU's
 * -kernel loads the ELF, enters here in 32-bit protected mode with paging
 * off, and payload.c's main() never returns.
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	call main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
