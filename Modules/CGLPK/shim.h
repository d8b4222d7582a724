// GLPK's C API (Debian: libglpk-dev), for XunfangExact's branch-and-bound.
#include <glpk.h>
