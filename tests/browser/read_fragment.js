// read_fragment.js - where a place in a message's HTML is after its link was
// clicked (DRIVERS.md, "fragment"): read in the top page the same way by
// every driver.  A function BODY (ES5, ends in `return`) with one argument,
// the id of the place in the first shown body frame: drive_webkit.py hands
// it to Selenium's execute_script, the Node drivers evaluate it wrapped as
// `(function () { ... }).apply(null, [id])`.
var id = arguments[0];
var frame = Array.prototype.filter.call(document.querySelectorAll('#body iframe, #parts iframe'),
                                        function (f) { return !f.hidden; })[0] || null;
var d = null;
try { d = frame ? frame.contentDocument : null; } catch (e) { d = null; }
var t = d ? d.getElementById(id) : null;
return {
  scroll_y: Math.round(window.pageYOffset),
  target_top: t ? Math.round(frame.getBoundingClientRect().top + t.getBoundingClientRect().top) : null,
  viewport_height: window.innerHeight,
  frame_url: d ? String(d.URL) : null
};
