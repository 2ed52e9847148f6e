/* SPDX-License-Identifier: MIT */
/* chPmm.h - the spelling used in parts of the ChorusOS guide's text. */
#include <pmm/chPmm.h>
