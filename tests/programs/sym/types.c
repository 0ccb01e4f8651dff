/* Types for the library's struct and enum queries: nested structs, arrays,
 * pointers, bit-fields, a union, typedefs, and enums with negative and
 * large values.  The program prints its own view (sizeof, offsetof) so the
 * tests have a second oracle besides gdb. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum color { RED, GREEN = 5, BLUE, NEGATIVE = -3, BIG = 0x7fffffff };
typedef enum { MODE_A = 1, MODE_B = 2 } mode_t_alias;

struct inner {
    char tag;
    double weight;
};

struct outer {
    int id;
    struct inner in;
    char name[13];
    struct inner *next;
    uint16_t arr[3][4];
    unsigned flag : 1;
    unsigned level : 5;
    union {
        int64_t i;
        float f;
    } u;
    enum color c;
};

typedef struct outer outer_t;

outer_t global_outer;
mode_t_alias global_mode = MODE_B;

int main(void)
{
    printf("outer %zu id %zu in %zu name %zu next %zu arr %zu u %zu c %zu\n", sizeof(struct outer),
           offsetof(struct outer, id), offsetof(struct outer, in), offsetof(struct outer, name),
           offsetof(struct outer, next), offsetof(struct outer, arr), offsetof(struct outer, u),
           offsetof(struct outer, c));
    return global_outer.id + (int)global_mode - 2;
}
