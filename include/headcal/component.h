/* What can be ablated (a head's or an MLP's direct effect, docs/design.md),
 * how, and the components' names. */
#ifndef HEADCAL_COMPONENT_H
#define HEADCAL_COMPONENT_H

#include <stddef.h>

/* A component whose direct effect can be ablated: head (layer, head), or
 * the MLP of a layer (head == HC_MLP). */
#define HC_MLP (-1)
typedef struct {
    int layer, head;
} hc_component;

/* Parses "L10H7", "10.7" or "MLP3"; returns -1 (recording no message) when
 * s is none of them.  hc_component_name writes the canonical form
 * ("L10H7", "MLP3"); n >= 32 always suffices. */
int hc_component_parse(const char *s, hc_component *c);
void hc_component_name(hc_component c, char *buf, size_t n);
/* Forward-pass order: by layer, a layer's heads in order, then its MLP. */
int hc_component_cmp(const hc_component *a, const hc_component *b);

/* Zero ablation removes the direct effect; mean ablation replaces it by its
 * per-position mean over the dataset. */
enum { HC_ABLATION_ZERO, HC_ABLATION_MEAN };
/* The final LayerNorm scale: frozen at the unablated value (the notebook),
 * or recomputed without the ablated output. */
enum { HC_LN_FROZEN, HC_LN_RECOMPUTE };

#endif
