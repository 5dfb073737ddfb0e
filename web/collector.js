// Placeholder: the CCP log collector for custom CCPs replaces this file.
"use strict";
