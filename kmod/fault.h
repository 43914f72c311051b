/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_FAULT_H
#define _PCA_FAULT_H

#include <linux/mm_types.h>
#include <linux/limits.h>
#include <linux/types.h>

struct pca_region;
struct net;
struct sock;

int pca_fault_init(void);
void pca_fault_exit(void);

void pca_region_faults_init(struct pca_region *r);
vm_fault_t pca_fault_wait(struct pca_region *r, struct vm_fault *vmf);
void pca_fault_wake_range(struct pca_region *r, pgoff_t start, pgoff_t nr);
void pca_fault_wake_all(struct pca_region *r);

/* ATTACH without PCA_A_POLICY leaves the region's policy as it is. */
#define PCA_POLICY_KEEP		U32_MAX

int pca_queue_attach(struct pca_region *r, struct sock *sk, u32 portid,
		     u32 policy, u32 *queue_id);
int pca_queue_detach(struct pca_region *r, struct sock *sk);
void pca_queue_detach_all(struct pca_region *r);
int pca_queue_resend(struct pca_region *r, struct sock *sk);
void pca_queue_release_portid(struct net *net, u32 portid);

#endif /* _PCA_FAULT_H */
