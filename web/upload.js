// Placeholder: the upload page's script replaces this file.
"use strict";
