/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_DIRTY_H
#define _PCA_DIRTY_H

#include <linux/mm_types.h>
#include <linux/types.h>

struct pca_region;

vm_fault_t pca_dirty_page_mkwrite(struct vm_fault *vmf);
int pca_dirty_track(struct pca_region *r, bool on);
int pca_dirty_collect(struct pca_region *r, pgoff_t first, pgoff_t nr,
		      u64 *bitmap, bool clear, u64 *dirty);
void pca_dirty_clear_bits(struct pca_region *r, pgoff_t first, pgoff_t nr,
			  const u64 *bitmap);
unsigned long pca_dirty_forget(struct pca_region *r, pgoff_t first,
			       pgoff_t nr);
void pca_dirty_free(struct pca_region *r);

#endif /* _PCA_DIRTY_H */
