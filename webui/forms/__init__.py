"""WTForms form classes for every HTML form: coercion, validation and Danish errors in one place per form."""
