// The renderer's main-world patch is the WebExtension's: one source, browser/src/patch.js, so the
// two cannot drift. browser/build.sh copies that file in place of this one into the packaged
// bridge (target/browser/electron).
'use strict';
module.exports = require('../../browser/src/patch.js');
