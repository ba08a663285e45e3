/* Functions banned in this code base (STYLE.md): any use is a compile error.
 * System headers are included first so that their own declarations do not trip the poison. */
#ifndef CG_CORE_POISON_H
#define CG_CORE_POISON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC poison strcpy strcat sprintf vsprintf strtok atoi atol gets

#endif
