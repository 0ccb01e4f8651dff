/*
 * sizeclasses.c — the size classes of small objects (up to 32 KiB) and the
 * number of pages in each class's spans.  The table has the shape of Go's
 * (same sizes and span sizes), which keeps worst-case internal
 * fragmentation near 12.5% and tail waste small.
 */
#include "heap.h"

const uint16_t class_to_size_table[NUM_SIZE_CLASSES] = {
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288,
    320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536,
    1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192,
    9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
    27264, 28672, 32768,
};

const uint8_t class_to_npages_table[NUM_SIZE_CLASSES] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2,
    9, 7, 5, 8, 3, 10, 7, 4,
};

uint32_t class_to_divmul[NUM_SIZE_CLASSES];
uint8_t size_to_class8[MAX_SMALL_SIZE / 8 + 1];
uint8_t size_to_class128[(MAX_SMALL_SIZE - 1024) / 128 + 1];

void sizeclasses_init(void)
{
    for (int c = 1; c < NUM_SIZE_CLASSES; c++) {
        uint32_t size = class_to_size_table[c];
        /* Exact for every offset inside a span of this class: offsets are
         * below 2^17 and the error of the rounded reciprocal stays < 1/size. */
        class_to_divmul[c] = UINT32_MAX / size + 1;
    }
    int c = 1;
    for (size_t i = 0; i * 8 <= 1024; i++) {
        while (class_to_size_table[c] < i * 8)
            c++;
        size_to_class8[i] = (uint8_t)c;
    }
    for (size_t i = 0; 1024 + i * 128 <= MAX_SMALL_SIZE; i++) {
        while (class_to_size_table[c] < 1024 + i * 128)
            c++;
        size_to_class128[i] = (uint8_t)c;
    }
}
