// The form_post response mode: hands the authorization response to the service at once.
// Without scripts the page's Continue button does the same.
document.getElementById('form-post').submit();
