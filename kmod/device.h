/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_DEVICE_H
#define _PCA_DEVICE_H

struct file;

int pca_device_init(void);
void pca_device_exit(void);
long pca_region_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

#endif /* _PCA_DEVICE_H */
